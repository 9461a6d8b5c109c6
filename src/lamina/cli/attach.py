"""A container run in the foreground: this terminal attached, signals forwarded, the exit code.

``run`` (without ``-d``) and ``start -a`` on both command lines (click's and the lean one)."""

import os
import sys

__all__ = ["run_attached"]


def run_attached(handle, interactive: bool, tty: bool, sig_proxy: bool, fork: bool = False) -> int:
    """Start with this terminal attached; forward signals; return the container's exit code.
    ``fork``: the monitor is a fork of this process (the lean path's)."""
    try:
        import _signal as signal  # without ``signal``'s enums (enum: ~2 ms of every ``run``)
    except ImportError:  # pragma: no cover - CPython has it
        import signal

    from ..errors import LaminaError
    from ..runtime.lifecycle import Attach, start

    sys.stdout.flush()
    attach = Attach(stdin=0 if interactive else -1, stdout=1, stderr=2)
    restore = None
    winch_w = -1
    if tty and interactive and os.isatty(0):
        import termios
        import tty as ttys

        saved = termios.tcgetattr(0)
        ttys.setraw(0)
        restore = lambda: termios.tcsetattr(0, termios.TCSADRAIN, saved)  # noqa: E731
    if tty:
        winch_r, winch_w = os.pipe()
        attach.winch = winch_r
    try:
        channel = start(handle, attach, fork)
    except BaseException:
        if restore:
            restore()
        raise
    if attach.winch >= 0:
        os.close(attach.winch)
    if tty and winch_w >= 0:
        signal.signal(signal.SIGWINCH, lambda *_: _poke(winch_w))
    if sig_proxy and not tty:
        def forward(signum, _frame):
            try:
                handle.kill(signum)
            except LaminaError:
                pass

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
            signal.signal(signum, forward)
    try:
        kind, value, message = channel.next()
        while kind == "started":
            kind, value, message = channel.next()
    finally:
        if restore:
            restore()
    if kind == "error":
        sys.stdout.flush()
        sys.stderr.write(f"Error: {message}\n")
        sys.stderr.flush()
    return value


def _poke(fd: int) -> None:
    try:
        os.write(fd, b"w")
    except OSError:
        pass
