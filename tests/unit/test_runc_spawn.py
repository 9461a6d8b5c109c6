"""``runtime.runc.run_captured``: what ``subprocess.run(capture_output=True)`` gave the runtime's
callers, without importing subprocess (real programs: sh, cat, sleep)."""

import os
import sys
import time

from lamina.runtime.runc import run_captured


def test_output_streams_and_exit_code():
    done = run_captured(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (done.returncode, done.stdout, done.stderr) == (3, b"out\n", b"err\n")


def test_input_larger_than_a_pipe_while_output_flows():
    data = os.urandom(300_000)
    done = run_captured(["cat"], data)
    assert done.returncode == 0 and done.stdout == data


def test_stdin_is_dev_null_without_input():
    assert run_captured(["cat"]).stdout == b""


def test_a_command_past_its_timeout_is_killed():
    start = time.monotonic()
    done = run_captured(["sleep", "30"], timeout=0.2)
    assert done.returncode is None and time.monotonic() - start < 10


def _pipes() -> set[str]:
    """This process's pipe descriptors: what a leak of run_captured's would add. (Only pipes:
    another test's leftover thread may open and close files or sockets meanwhile.)"""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("pipe:"):
            found.add(f"{fd}->{target}")
    return found


def test_no_descriptor_leaks_and_none_inherited():
    read_end, write_end = os.pipe()
    os.set_inheritable(write_end, True)  # as a monitor's pipe to its client is
    before = _pipes()
    try:
        for _ in range(5):
            listed = run_captured(["sh", "-c", "ls /proc/$$/fd"]).stdout.split()
            assert str(write_end).encode() not in listed
            try:
                run_captured(["/nonexistent/runc"])
            except OSError:
                pass
        assert _pipes() == before
    finally:
        os.close(read_end)
        os.close(write_end)


def test_the_runtime_module_does_not_load_subprocess():
    import subprocess as sp

    src = os.path.dirname(os.path.dirname(os.path.abspath(__import__("lamina").__file__)))
    code = f"import sys; sys.path.append({src!r}); import lamina.runtime.lifecycle; print('subprocess' in sys.modules)"
    assert sp.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
