import json
import re

import pytest

from lamina.digest import Digest
from lamina.errors import InvalidArgument
from lamina.oci import Descriptor, ImageConfig, Index, Manifest, chain_ids, parse_manifest_or_index
from lamina.oci import mediatypes as mt

D1 = Digest.of_bytes(b"1")
D2 = Digest.of_bytes(b"2")


def manifest_doc(**extra):
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.DOCKER_MANIFEST,
        "config": {"mediaType": mt.DOCKER_CONFIG, "digest": str(D1), "size": 1},
        "layers": [{"mediaType": mt.DOCKER_LAYER_GZIP, "digest": str(D2), "size": 1}],
    }
    doc.update(extra)
    return json.dumps(doc).encode()


def test_manifest_keeps_raw_bytes():
    raw = manifest_doc()
    m = Manifest.parse(raw)
    assert m.raw == raw
    assert m.digest == Digest.of_bytes(raw)
    assert m.layers[0].digest == D2


def test_manifest_confusion_refused():
    raw = manifest_doc(manifests=[])
    with pytest.raises(InvalidArgument, match="both"):
        Manifest.parse(raw)
    with pytest.raises(InvalidArgument, match="both"):
        parse_manifest_or_index(raw)


def test_media_type_mismatch():
    with pytest.raises(InvalidArgument, match="does not match"):
        Manifest.parse(manifest_doc(), mt.OCI_MANIFEST)


def test_index_parse():
    raw = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_INDEX,
            "manifests": [
                {
                    "mediaType": mt.OCI_MANIFEST,
                    "digest": str(D1),
                    "size": 3,
                    "platform": {"architecture": "amd64", "os": "linux"},
                }
            ],
        }
    ).encode()
    idx = parse_manifest_or_index(raw)
    assert isinstance(idx, Index)
    assert idx.manifests[0].platform.architecture == "amd64"


@pytest.mark.parametrize(
    "desc",
    [
        {"mediaType": "x", "digest": "sha256:zz", "size": 1},
        {"mediaType": "x", "digest": str(D1), "size": -1},
        {"mediaType": "x", "digest": str(D1), "size": True},
        {"digest": str(D1), "size": 1},
        [],
    ],
)
def test_bad_descriptor(desc):
    with pytest.raises(InvalidArgument):
        Descriptor.from_json(desc)


def test_chain_ids_match_spec():
    diff = [D1, D2]
    chain = chain_ids(diff)
    assert chain[0] == D1
    assert chain[1] == Digest.of_bytes(f"{D1} {D2}".encode())


def test_config_identity_and_validation():
    cfg = ImageConfig.from_doc({"rootfs": {"type": "layers", "diff_ids": [str(D1)]}})
    assert cfg.digest == Digest.of_bytes(cfg.raw)
    assert cfg.diff_ids == (D1,)
    with pytest.raises(InvalidArgument):
        ImageConfig.parse(b'{"rootfs": {"diff_ids": ["sha256:bad"]}}')
    with pytest.raises(InvalidArgument):
        ImageConfig.parse(b"not json")


@pytest.mark.parametrize(
    "patch, message",
    [
        ({"config": {"Env": "A=1"}}, "config.Env must be a list of strings"),
        ({"config": {"Labels": {"a": 1}}}, "config.Labels"),
        ({"history": [{"created_by": 5}]}, "history[].created_by"),
        ({"history": ["x"]}, "history entries must be objects"),
        ({"created": 1700000000}, "created must be a str"),
        ({"config": []}, "config must be a map"),
    ],
)
def test_config_fields_of_the_wrong_type_are_refused(patch, message):
    doc = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}, **patch}
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        ImageConfig.parse(json.dumps(doc).encode())


def test_config_accepts_docker_string_cmd_and_nulls():
    doc = {"rootfs": {"type": "layers", "diff_ids": []}, "config": {"Cmd": "sh", "Entrypoint": None, "Env": None}, "history": None}
    assert ImageConfig.parse(json.dumps(doc).encode()).config["Cmd"] == "sh"


@pytest.mark.parametrize(
    "doc",
    [
        {"schemaVersion": 2, "mediaType": ["x"], "config": {}, "layers": []},
        {"schemaVersion": 2, "manifests": [{"mediaType": "a", "digest": "sha256:" + "a" * 64, "size": 1, "annotations": []}]},
        {"schemaVersion": 2, "manifests": [{"mediaType": "a", "digest": "sha256:" + "a" * 64, "size": 1, "urls": "x"}]},
    ],
)
def test_documents_with_fields_of_the_wrong_type_are_refused(doc):
    with pytest.raises(InvalidArgument):
        parse_manifest_or_index(json.dumps(doc).encode())
