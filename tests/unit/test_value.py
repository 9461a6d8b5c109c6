"""``lamina.value.Value``: the plain records that replaced frozen dataclasses on start-up paths
keep what the dataclasses gave (immutability, equality, hashing, ordering, repr, pickling)."""

from __future__ import annotations

import copy
import pickle

import pytest

from lamina import reference as refs
from lamina.digest import Digest
from lamina.errors import InvalidArgument
from lamina.oci import ImageConfig, canonical_json
from lamina.store.layerdb import LayerRecord

A = Digest("sha256", "a" * 64)
B = Digest("sha256", "b" * 64)


def test_values_are_frozen():
    with pytest.raises(AttributeError):
        A.hex = "c" * 64
    with pytest.raises(AttributeError):
        del A.algorithm


def test_equality_hashing_and_ordering_follow_the_fields():
    assert A == Digest.parse(str(A)) and hash(A) == hash(Digest.parse(str(A)))
    assert A != B and A < B <= B and B > A >= A and sorted([B, A]) == [A, B]
    assert {A: 1}[Digest("sha256", "a" * 64)] == 1
    assert A != str(A)  # a different type is never equal
    record = LayerRecord(A, B, None, 3, "c" * 64)
    assert record == LayerRecord(chain_id=A, diff_id=B, parent=None, size=3, cache_id="c" * 64)
    assert record != record.replace(size=4) and record.replace(size=4).size == 4


def test_validation_runs_on_construction():
    with pytest.raises(InvalidArgument):
        Digest("sha256", "XYZ")
    with pytest.raises(InvalidArgument):
        Digest("md5", "a" * 32)


def test_image_configs_compare_by_their_bytes():
    doc = {"rootfs": {"type": "layers", "diff_ids": [str(A)]}}
    one, two = ImageConfig.parse(canonical_json(doc)), ImageConfig.from_doc(doc)
    assert one == two and hash(one) == hash(two) and one.digest == two.digest


def test_repr_pickle_and_copies():
    ref = refs.parse("localhost:5000/a/b:c")
    assert repr(ref) == "Reference(domain='localhost:5000', path='a/b', tag='c', digest=None)"
    for value in (A, ref, LayerRecord(A, B, A, 1, "d" * 64)):
        assert pickle.loads(pickle.dumps(value)) == value
        assert copy.deepcopy(value) == value and copy.copy(value) == value
