"""The README's second command, ``scripts/demo.sh``, runs to the end and says what it should."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.timeout(300)
def test_demo_runs_end_to_end(tmp_path):
    missing = [tool for tool in ("lamina", "curl", "busybox") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the demo needs {', '.join(missing)} (./install.sh installs them)")
    env = {**os.environ, "LAMINA_DEMO_ROOT": str(tmp_path / "demo-root")}
    proc = subprocess.run([os.path.join(REPO, "scripts", "demo.sh")], capture_output=True, text=True, env=env, timeout=280)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = proc.stdout
    for expected in (
        "busybox from Debian",  # history shows the import message
        ": Pushed",  # lamina pushed to lamina's registry
        "Status: Downloaded newer image for 127.0.0.1:",  # and pulled it back into another root
        "Loaded image: busybox:latest",
        "hello from a container",  # a container ran (runc), its output came back
        "A /greeting",  # container diff saw the file it wrote
        "exited 0 ",  # and its state was recorded in config.v2.json
        "The data root is consistent.",
        "Storage Driver: overlay2",
    ):
        assert expected in out, expected
    assert "Traceback" not in proc.stderr
