import pytest

from lamina.errors import InvalidArgument
from lamina.image.changes import apply_changes
from lamina.image.config import DEFAULT_CONTAINER_CONFIG, full_container_config


def test_all_instructions():
    out = apply_changes(
        dict(DEFAULT_CONTAINER_CONFIG),
        [
            'CMD ["/bin/sh", "-c", "echo hi"]',
            "ENV A=1 B='two words'",
            "ENV LEGACY some value",
            "EXPOSE 80 53/udp",
            'LABEL maintainer="me" version=1',
            "USER nobody",
            "WORKDIR /srv",
            "WORKDIR app",
            'VOLUME ["/data"]',
            "VOLUME /logs /cache",
            "STOPSIGNAL SIGTERM",
        ],
    )
    assert out["Cmd"] == ["/bin/sh", "-c", "echo hi"]
    assert out["Env"] == ["A=1", "B=two words", "LEGACY=some value"]
    assert out["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert out["Labels"] == {"maintainer": "me", "version": "1"}
    assert out["User"] == "nobody"
    assert out["WorkingDir"] == "/srv/app"
    assert out["Volumes"] == {"/data": {}, "/logs": {}, "/cache": {}}
    assert out["StopSignal"] == "SIGTERM"


def test_shell_form_and_entrypoint_resets_cmd():
    out = apply_changes({"Cmd": ["x"]}, ["ENTRYPOINT /bin/app --flag"])
    assert out["Entrypoint"] == ["/bin/sh", "-c", "/bin/app --flag"]
    assert out["Cmd"] is None


def test_env_overrides_same_key():
    out = apply_changes({"Env": ["PATH=/bin", "A=1"]}, ["ENV PATH=/usr/bin"])
    assert out["Env"] == ["A=1", "PATH=/usr/bin"]


@pytest.mark.parametrize("bad", ["RUN echo", "FROM x", "ENV", "EXPOSE abc", "ENV =x"])
def test_rejected(bad):
    with pytest.raises(InvalidArgument):
        apply_changes({}, [bad])


def test_full_config_has_docker_fields_in_order():
    cfg = full_container_config({"Cmd": ["sh"]})
    assert list(cfg)[:3] == ["Hostname", "Domainname", "User"]
    assert cfg["Cmd"] == ["sh"] and cfg["Env"] is None
    assert "ExposedPorts" not in cfg
