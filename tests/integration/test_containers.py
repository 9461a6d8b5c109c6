"""Real containers through runc on a busybox base made in the test: the on-disk layout (docker's),
run/exit codes, logs, exec, stop, limits in the cgroup, read-only root, restart policy after the
CLI exits, a real terminal, and kill -9 of the CLI during ``run -d`` followed by ``system check``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

pytestmark = pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed (apt-get install runc)")


@pytest.fixture
def ctr(lamina, busybox_tar):
    lamina.run("image", "import", "-c", 'CMD ["/bin/sh"]', busybox_tar, "busybox:latest")
    yield lamina
    # stop whatever a failing test left running, so mounts and monitors go with the data root
    ids = lamina.run("ps", "-aq", "--no-trunc", check=False).out.split()
    if ids:
        lamina.run("rm", "-f", *ids, check=False)


def _config(root: str, cid: str) -> dict:
    with open(os.path.join(root, "containers", cid, "config.v2.json")) as f:
        return json.load(f)


def _wait(predicate, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_create_writes_dockers_layout(ctr, data_root):
    cid = ctr.run("create", "--name", "web", "-e", "FOO=bar", "-l", "tier=front", "busybox", "sh", "-c", "echo hi").out.strip()
    assert len(cid) == 64
    doc = _config(data_root, cid)
    assert doc["Name"] == "/web" and doc["Path"] == "sh" and doc["Args"] == ["-c", "echo hi"]
    assert doc["Config"]["Env"] == ["FOO=bar"] and doc["Config"]["Labels"] == {"tier": "front"}
    assert doc["State"]["StartedAt"] == "0001-01-01T00:00:00Z" and doc["Driver"] == "overlay2"
    host = json.load(open(os.path.join(data_root, "containers", cid, "hostconfig.json")))
    assert host["NetworkMode"] == "bridge" and host["LogConfig"]["Type"] == "json-file"
    mounts = os.path.join(data_root, "image", "overlay2", "layerdb", "mounts", cid)
    mount_id = open(os.path.join(mounts, "mount-id")).read()
    assert open(os.path.join(mounts, "init-id")).read() == f"{mount_id}-init"
    assert open(os.path.join(mounts, "parent")).read().startswith("sha256:")
    init = os.path.join(data_root, "overlay2", f"{mount_id}-init", "diff")
    for path in ("etc/hosts", "etc/hostname", "etc/resolv.conf", "dev/console", ".dockerenv"):
        assert os.path.isfile(os.path.join(init, path)), path
    assert os.readlink(os.path.join(init, "etc/mtab")) == "/proc/mounts"
    assert os.path.isdir(os.path.join(init, "dev/pts")) and os.path.isdir(os.path.join(init, "dev/shm"))
    ps = ctr.run("ps", "-a").out.splitlines()
    assert ps[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    assert cid[:12] in ps[1] and "Created" in ps[1] and ps[1].endswith("web") and '"sh -c \'echo hi\'"' in ps[1]
    # names are unique and prefixes resolve
    dup = ctr.run("create", "--name", "web", "busybox", check=False)
    assert dup.returncode == 1 and "is already in use" in dup.err
    inspect = json.loads(ctr.run("container", "inspect", cid[:8]).out)[0]
    assert inspect["State"]["Status"] == "created" and inspect["GraphDriver"]["Name"] == "overlay2"
    assert f"{mount_id}-init/diff" in inspect["GraphDriver"]["Data"]["LowerDir"]
    ctr.run("rename", "web", "web2")
    assert ctr.run("ps", "-a", "--format", "{{.Names}}").out.strip() == "web2"
    ctr.run("rm", "web2")
    assert not os.path.exists(os.path.join(data_root, "containers", cid))
    assert not os.path.exists(mounts) and not os.path.exists(os.path.join(data_root, "overlay2", mount_id))
    assert ctr.run("system", "check").out.strip() == "The data root is consistent."


def test_run_exit_codes_and_messages(ctr):
    ok = ctr.run("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert ok.returncode == 3 and ok.out == "out\n" and "err\n" in ok.err
    missing = ctr.run("run", "--rm", "busybox", "no-such-command", check=False)
    assert missing.returncode == 127 and 'exec: "no-such-command": executable file not found in $PATH' in missing.err
    denied = ctr.run("run", "--rm", "busybox", "/etc/passwd", check=False)
    assert denied.returncode == 126 and "permission denied" in denied.err
    noimage = ctr.run("run", "--rm", "nosuchimage", check=False)
    assert noimage.returncode == 125 and "Unable to find image 'nosuchimage:latest' locally" in noimage.err
    nonet = ctr.run("run", "--rm", "--network", "nosuchnet", "busybox", "true", check=False)
    assert nonet.returncode == 125 and nonet.err == "Error: network nosuchnet not found\n"
    assert ctr.run("ps", "-aq").out == ""  # --rm removed them all, even the failed ones


def test_detached_logs_exec_stop_and_merged(ctr, data_root):
    cid = ctr.run("run", "-d", "--name", "ticker", "busybox", "sh", "-c",
                  "trap 'exit 0' TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done").out.strip()
    mount_id = open(os.path.join(data_root, "image/overlay2/layerdb/mounts", cid, "mount-id")).read()
    merged = os.path.join(data_root, "overlay2", mount_id, "merged")
    assert _wait(lambda: "tick 3" in ctr.run("logs", "ticker").out)
    assert os.path.ismount(merged)
    log = os.path.join(data_root, "containers", cid, f"{cid}-json.log")
    entry = json.loads(open(log).readline())
    assert entry["log"] == "tick 0\n" and entry["stream"] == "stdout" and entry["time"].endswith("Z")
    assert ctr.run("logs", "--tail", "1", "ticker").out.count("\n") == 1
    assert "Up " in ctr.run("ps").out
    top = ctr.run("top", "ticker").out.splitlines()  # docker's default: ps -ef
    assert top[0].split() == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"] and "sh -c" in "\n".join(top)
    assert ctr.run("top", "ticker", "-o", "pid,comm").out.splitlines()[0].split() == ["PID", "COMMAND"]
    for verb, status in (("run", 125), ("create", 1)):  # a name in use: docker's message and statuses
        taken = ctr.run(verb, "--name", "ticker", "busybox", "true", check=False)
        assert taken.returncode == status, (verb, taken.err)
        assert f'Conflict. The container name "/ticker" is already in use by container "{cid}"' in taken.err
    ctr.run("exec", "ticker", "sh", "-c", "echo changed > /etc/motd")
    assert ctr.run("exec", "ticker", "hostname").out.strip() == cid[:12]
    assert ctr.run("exec", "ticker", "sh", "-c", "exit 7", check=False).returncode == 7
    upper = os.path.join(data_root, "overlay2", mount_id, "diff", "etc", "motd")
    assert open(upper).read() == "changed\n"
    ctr.run("stop", "ticker")
    doc = _config(data_root, cid)
    assert doc["State"]["Running"] is False and doc["State"]["ExitCode"] == 0
    assert not os.path.exists(merged) and open(upper).read() == "changed\n"
    assert "Exited (0)" in ctr.run("ps", "-a").out
    assert ctr.run("start", "ticker").returncode == 0
    assert _wait(lambda: _config(data_root, cid)["State"]["Running"])
    ctr.run("kill", "ticker")
    assert _wait(lambda: not _config(data_root, cid)["State"]["Running"])
    assert _config(data_root, cid)["State"]["ExitCode"] == 137
    assert ctr.run("wait", "ticker").out.strip() == "137"


def test_limits_visible_in_cgroup_and_read_only_root(ctr):
    out = ctr.run("run", "--rm", "--memory", "64m", "--pids-limit", "50", "--cpus", "0.5", "busybox", "sh", "-c",
                  "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max "
                  "/sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max").out.split()
    assert out[0] == str(64 * 1024 * 1024) and out[1] == "50"
    assert out[2] == "50000"
    ro = ctr.run("run", "--rm", "--read-only", "busybox", "sh", "-c", "touch /x", check=False)
    assert ro.returncode != 0 and "Read-only file system" in ro.err
    rw = ctr.run("run", "--rm", "--read-only", "--tmpfs", "/scratch", "busybox", "sh", "-c", "touch /scratch/x && echo ok")
    assert rw.out == "ok\n"


def test_isolation_defaults(ctr):
    out = ctr.run("run", "--rm", "busybox", "sh", "-c",
                  "grep CapBnd /proc/self/status; grep Seccomp: /proc/self/status; echo $$; ls /sys/firmware | wc -l").out.split("\n")
    assert out[0].split()[1] == "00000000a80425fb"  # docker's 14 default capabilities
    assert out[1].split()[1] == "2"  # seccomp filter mode
    assert out[2] == "1"  # own pid namespace
    cap = ctr.run("run", "--rm", "--cap-drop", "ALL", "--cap-add", "CHOWN", "busybox", "grep", "CapBnd", "/proc/self/status").out
    assert cap.split()[1] == "0000000000000001"


def test_user_workdir_env_entrypoint(ctr):
    out = ctr.run("run", "--rm", "-u", "nobody", "-w", "/work/dir", "-e", "A=1", "busybox", "sh", "-c", "id -u; pwd; echo $A").out
    assert out.split() == ["65534", "/work/dir", "1"]
    ep = ctr.run("run", "--rm", "--entrypoint", "echo", "busybox", "hello", "world").out
    assert ep == "hello world\n"


def test_restart_policy_after_cli_exits(ctr, data_root):
    cid = ctr.run("run", "-d", "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 1").out.strip()
    assert _wait(lambda: _config(data_root, cid)["RestartCount"] == 2 and not _config(data_root, cid)["State"]["Running"], 20)
    doc = _config(data_root, cid)
    assert doc["State"]["ExitCode"] == 1
    assert "Exited (1)" in ctr.run("ps", "-a").out


def test_terminal_under_a_pty(ctr):
    import pty

    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(ctr.argv()[0], ctr.argv("run", "--rm", "-it", "busybox", "sh", "-c", "tty; stty size; exit 5"))
    out = b""
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        out += data
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 5
    assert b"/dev/pts/0" in out


def test_kill_minus_nine_during_run_d_then_check(ctr, data_root):
    for delay in (0.05, 0.15, 0.3, 0.6):
        proc = subprocess.Popen(ctr.argv("run", "-d", "--rm", "busybox", "sleep", "30"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    report = ctr.run("system", "check", check=False)
    if report.returncode != 0:
        ctr.run("system", "check", "--repair")
        assert ctr.run("system", "check").out.strip() == "The data root is consistent."
    ids = ctr.run("ps", "-aq").out.split()
    if ids:
        ctr.run("rm", "-f", *ids)
    assert ctr.run("system", "check").out.strip() == "The data root is consistent."
    assert os.listdir(os.path.join(data_root, "image/overlay2/layerdb/mounts")) == []


def test_dead_monitor_is_found_and_repaired(ctr, data_root):
    cid = ctr.run("run", "-d", "busybox", "sleep", "60").out.strip()
    from lamina.container.store import exec_root

    lock = os.path.join(exec_root(data_root), f"{cid}.monitor")
    pid = _config(data_root, cid)["State"]["Pid"]
    holders = subprocess.run(["fuser", lock], capture_output=True, text=True).stdout.split() if shutil.which("fuser") else []
    for holder in holders:
        os.kill(int(holder), signal.SIGKILL)
    if not holders:
        pytest.skip("fuser is not installed (psmisc)")
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    check = ctr.run("system", "check", check=False)
    assert check.returncode == 1 and "container whose monitor died" in check.out
    ctr.run("system", "check", "--repair")
    assert ctr.run("system", "check").out.strip() == "The data root is consistent."
    assert "Exited" in ctr.run("ps", "-a").out


def test_start_after_the_monitor_died(ctr, data_root):
    """A container whose monitor and process were killed starts again: the network endpoint
    the dead monitor could not release is taken back (``start`` failed with "endpoint with
    name … already exists"), and ``start`` itself marks a lost monitor's container exited
    under the lock it holds (``refresh`` there would take that lock a second time)."""
    cid = ctr.run("run", "-d", "busybox", "sleep", "60").out.strip()
    from lamina.container.store import exec_root

    lock = os.path.join(exec_root(data_root), f"{cid}.monitor")
    holders = subprocess.run(["fuser", lock], capture_output=True, text=True).stdout.split() if shutil.which("fuser") else []
    if not holders:
        pytest.skip("fuser is not installed (psmisc)")
    pid = _config(data_root, cid)["State"]["Pid"]
    for holder in holders:
        os.kill(int(holder), signal.SIGKILL)
    os.kill(pid, signal.SIGKILL)
    assert _wait(lambda: not os.path.exists(f"/proc/{pid}"))
    started = subprocess.run(ctr.argv("start", cid), capture_output=True, text=True, timeout=60)
    assert started.returncode == 0, started.stderr
    assert _wait(lambda: _config(data_root, cid)["State"]["Running"])
    assert _config(data_root, cid)["State"]["Pid"] != pid
    ctr.run("rm", "-f", cid)
    assert ctr.run("system", "check").out.strip() == "The data root is consistent."


def test_run_rm_takes_anonymous_volumes_not_named_ones(ctr, busybox_tar):
    """docker's ``--rm``: the container goes with the anonymous volumes an image's VOLUME gave
    it, in the foreground and detached; a named volume stays."""
    ctr.run("image", "import", "-c", "VOLUME /data", "-c", 'CMD ["/bin/sh"]', busybox_tar, "withvol:1")
    assert ctr.run("run", "--rm", "withvol:1", "sh", "-c", "echo x > /data/x").returncode == 0
    assert ctr.run("volume", "ls", "-q").out == ""
    ctr.run("run", "-d", "--rm", "--name", "brief", "withvol:1", "true")
    assert _wait(lambda: ctr.run("ps", "-aq").out == "" and ctr.run("volume", "ls", "-q").out == "")
    ctr.run("run", "--rm", "-v", "kept:/data", "withvol:1", "sh", "-c", "echo y > /data/y")
    assert ctr.run("volume", "ls", "-q").out == "kept\n"
    assert ctr.run("run", "--rm", "-v", "kept:/data", "withvol:1", "cat", "/data/y").out == "y\n"


def test_runtime_state_of_a_removed_container_is_found_and_repaired(ctr, data_root):
    """A ``run --rm`` monitor deletes runc's state after its client heard the exit; killed just
    then, it leaves that state (and its bundle and lock file) with no container: debris."""
    from lamina.container.store import exec_root

    proc = ctr.run("run", "--rm", "--network", "none", "busybox", "true", check=False)
    assert proc.returncode == 0
    root = exec_root(data_root)
    assert _wait(lambda: not [n for n in os.listdir(root) if n != "runc"] and not os.listdir(os.path.join(root, "runc")))
    gone = "ab" * 32
    os.makedirs(os.path.join(root, gone))
    with open(os.path.join(root, gone, "config.json"), "w") as f:
        f.write("{}")
    open(os.path.join(root, f"{gone}.monitor"), "w").close()
    os.makedirs(os.path.join(root, "runc", gone))
    with open(os.path.join(root, "runc", gone, "state.json"), "w") as f:
        f.write("{}")
    check = ctr.run("system", "check", check=False)
    assert check.returncode == 1
    assert check.out.count("runtime state of a removed container") == 3, check.out
    ctr.run("system", "check", "--repair")
    assert ctr.run("system", "check").out.strip() == "The data root is consistent."
    assert not os.path.exists(os.path.join(root, gone)) and not os.path.exists(os.path.join(root, "runc", gone))


def _monitor_of(data_root: str, cid: str) -> int | None:
    from lamina.container.store import exec_root

    lock = os.path.join(exec_root(data_root), f"{cid}.monitor")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") == lock for fd in os.listdir(f"/proc/{pid}/fd")):
                return int(pid)
        except OSError:
            continue
    return None


def test_an_idle_detached_container_is_watched_by_the_monitors_idle_form(ctr, data_root):
    """After IDLE_AFTER a detached container's monitor is the small ``runtime.waiter`` (the
    same process: the container's parent, holding its lock); the log goes on, and the exit,
    a restart and ``--rm`` are handled as before."""
    from lamina.runtime.monitor import IDLE_AFTER

    cid = ctr.run("run", "-d", "--network", "none", "busybox", "sh", "-c",
                  "trap 'echo bye; exit 7' TERM; i=0; while :; do echo line$i; i=$((i+1)); sleep 0.2; done").out.strip()
    pid = _monitor_of(data_root, cid)
    assert pid
    assert _wait(lambda: b"lamina.runtime.waiter" in open(f"/proc/{pid}/cmdline", "rb").read(), IDLE_AFTER + 10)
    assert _wait(lambda: open(f"/proc/{pid}/comm").read().strip() == "lamina-monitor")
    assert _monitor_of(data_root, cid) == pid
    seen = len(ctr.run("logs", cid).out.splitlines())
    assert _wait(lambda: len(ctr.run("logs", cid).out.splitlines()) > seen + 2)
    ctr.run("stop", cid)
    assert _config(data_root, cid)["State"]["ExitCode"] == 7 and not _config(data_root, cid)["State"]["Running"]
    assert ctr.run("logs", "--tail", "1", cid).out == "bye\n"

    again = ctr.run("run", "-d", "--restart", "on-failure:1", "--network", "none", "busybox", "sh", "-c",
                    f"sleep {IDLE_AFTER + 0.5}; echo ran; exit 3").out.strip()
    assert _wait(lambda: _config(data_root, again)["RestartCount"] == 1 and not _config(data_root, again)["State"]["Running"], 30)
    assert ctr.run("logs", again).out == "ran\nran\n"
    assert _config(data_root, again)["State"]["ExitCode"] == 3

    gone = ctr.run("run", "-d", "--rm", "--network", "none", "busybox", "sleep", str(IDLE_AFTER + 0.5)).out.strip()
    assert _wait(lambda: gone not in ctr.run("ps", "-aq", "--no-trunc").out, 30)
    from lamina.container.store import exec_root

    assert _wait(lambda: not [n for n in os.listdir(exec_root(data_root)) if n.startswith(gone)])
