"""Pure parts of the container filesystem commands: commit's config merge, cp's argument split."""

from __future__ import annotations

import pytest

from lamina.container.changes import Change
from lamina.container.commit import commit_config
from lamina.container.copy import split_target
from lamina.errors import InvalidArgument

CONTAINER = {
    "Hostname": "abc", "User": "", "Env": ["PATH=/bin", "A=1"], "Cmd": ["sh", "-c", "x"], "Image": "busybox",
    "Labels": None, "WorkingDir": "/w", "Entrypoint": None, "Volumes": None, "ExposedPorts": None,
}


def test_commit_config_is_the_container_config_with_changes():
    out = commit_config(["ENV A=2 B=3", 'CMD ["top"]', "EXPOSE 80", "LABEL k=v"], CONTAINER)
    assert out["Env"] == ["PATH=/bin", "A=2", "B=3"]
    assert out["Cmd"] == ["top"] and out["Hostname"] == "abc" and out["WorkingDir"] == "/w"
    assert out["ExposedPorts"] == {"80/tcp": {}} and out["Labels"] == {"k": "v"}
    plain = commit_config([], CONTAINER)
    assert plain["Labels"] == {} and "ExposedPorts" not in plain and plain["Cmd"] == ["sh", "-c", "x"]
    entry = commit_config(['ENTRYPOINT ["/bin/app"]'], CONTAINER)
    assert entry["Entrypoint"] == ["/bin/app"] and entry["Cmd"] is None  # ENTRYPOINT resets CMD, as in docker
    with pytest.raises(InvalidArgument):
        commit_config(["RUN true"], CONTAINER)


def test_cp_targets():
    assert split_target("c1:/etc/passwd") == ("c1", "/etc/passwd")
    assert split_target("/tmp/a:b") == (None, "/tmp/a:b")
    assert split_target("./c1:x") == (None, "./c1:x")
    assert split_target("relative") == (None, "relative")
    assert split_target("c1:") == ("c1", "")


def test_change_lines_and_api_shape():
    assert Change("D", "/etc/group").line() == "D /etc/group"
    assert [Change(k, "/x").to_json()["Kind"] for k in "CAD"] == [0, 1, 2]
