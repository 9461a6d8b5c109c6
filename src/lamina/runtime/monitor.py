"""The per-container monitor: one small process per running container that outlives the CLI.

It is to lamina what containerd-shim is to docker and conmon to podman. It

* mounts the container's root filesystem (``merged/`` exists while the container runs) and
  writes its hostname, hosts and resolv.conf;
* runs ``runc create``, calls the network step (``container.netattach``) while the process is
  created but not started, then ``runc start``; where there is no network step (``none``,
  ``host``), one ``runc run --detach`` instead (a Go launch fewer);
* is the container's parent (PR_SET_CHILD_SUBREAPER), so it learns the exit status first-hand;
* copies the container's stdout/stderr (or its terminal) into the json-file log in docker's
  format, and to the client that ran it in the foreground, and that client's stdin back in;
* records Running/Pid/StartedAt and then ExitCode/FinishedAt/OOMKilled in config.v2.json;
* applies the restart policy (docker's backoff: 100 ms doubling, reset after 10 s of running)
  and ``--rm`` (the container leaves the namespace, the client hears the exit, then the root,
  the runtime's state and the layers go).

It holds an exclusive flock on ``<exec-root>/<id>.monitor`` for its whole life: ``alive()``
asks the kernel, so a killed monitor is never mistaken for a live one (no PID files).

Why our own and not conmon (measured in bench/containers.py): conmon writes k8s-file or
journald logs, not docker's json-file, and speaks podman's attach protocol; wrapping it would
need a second process per container to translate. This one is a fork of ``lamina run`` (or a
``python3 -S``) and imports only the standard library modules it uses (no ``json``: ``jsonc``;
no ``subprocess``: ``os.posix_spawnp``).

The client talks to it over inherited pipes: a status pipe (``started <pid>``, ``error <code>
<message>``, ``exit <code>``), optional stdin/stdout/stderr of the client's terminal, and a
"window changed" pipe.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import sys
import time

from .execroot import alive, bundle_dir, lock_path  # noqa: F401 (the exec root's layout, kept light for readers)
from .jsonlog import LOG_LINE_MAX, JsonLog  # noqa: F401 (the log's home is jsonlog: the waiter shares it)

#: seconds a detached container runs before its monitor takes its idle form (``runtime.waiter``):
#: short-lived ones (``run -d … true``) never pay for the exec
IDLE_AFTER = 1.0


class StartError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class Monitor:
    def __init__(self, opts: dict) -> None:
        from ..container.store import ContainerStore, StoreView

        self.opts = opts
        self.view = StoreView(opts["root"], opts["driver"])
        self.records = ContainerStore(self.view)
        self.id = opts["id"]
        self.exec_root = self.records.exec_root
        self.bundle = bundle_dir(self.exec_root, self.id)
        from .runc import runtime_cli

        rt = opts["runtime"]
        self.runtime = runtime_cli(self.exec_root, rt["path"], tuple(rt.get("args") or ()), rt["name"])
        self.status_fd = opts.get("status_fd", -1)
        self.sink_in = opts.get("stdin", -1)
        self.sink_out = opts.get("stdout", -1)
        self.sink_err = opts.get("stderr", -1)
        self.winch_fd = opts.get("winch_fd", -1)
        self.merged = ""
        self.removed = False

    # the client's pipes --------------------------------------------------------------------
    def report(self, line: str) -> None:
        if self.status_fd < 0:
            return
        try:
            os.write(self.status_fd, (line + "\n").encode())
        except OSError:
            self._close_status()

    def _close_status(self) -> None:
        if self.status_fd >= 0:
            try:
                os.close(self.status_fd)
            except OSError:
                pass
            self.status_fd = -1

    def _detach_client(self) -> None:
        for attr in ("sink_in", "sink_out", "sink_err", "winch_fd"):
            fd = getattr(self, attr)
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
                setattr(self, attr, -1)
        self._close_status()

    # life ----------------------------------------------------------------------------------
    def run(self, resumed: dict | None = None, status: int | None = None) -> None:
        """The container's life: start, watch, record the exit, restart or remove. ``resumed``:
        the state the idle form (``runtime.waiter``) hands back with the exit ``status`` of
        the container it watched; the loop goes on from there."""
        if resumed is None:
            os.makedirs(self.exec_root, exist_ok=True)
            lock_fd = os.open(lock_path(self.exec_root, self.id), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.report("error 125 container is already running")
                return
            _set_subreaper()
            try:
                import _signal as signal  # without ``signal``'s enums (enum: ~2 ms of every start)
            except ImportError:  # pragma: no cover - CPython has it
                import signal

            signal.signal(signal.SIGPIPE, signal.SIG_IGN)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            backoff = 0.1
            first = True
        else:  # the flock, the subreaper mark and the ignored signals outlived the exec
            lock_fd, backoff, first = resumed["lock_fd"], resumed["backoff"], False
        while True:
            if resumed is not None:
                pid, started = resumed["pid"], time.monotonic() - resumed["ran_for"]
                code, oom = self._ended(status)
                resumed = None
            else:
                try:
                    pid, started = self.launch(first)
                except StartError as exc:
                    self.fail_start(exc)
                    break
                self.lock_fd, self.backoff, self.started = lock_fd, backoff, started
                self.report(f"started {pid}")
                code, oom = self.pump(pid)
            ran_for = time.monotonic() - started
            restart = self.should_restart(code)
            remove = not restart and self.auto_remove()
            self.finish(code, oom, removing=remove)
            if remove:
                # ``run --rm`` returns once the container is gone, as docker's CLI waits for
                # the removal: a script may reuse the name at once. Gone means out of the
                # namespace (not listed, its name free); its root is unmounted and its layers
                # and the runtime's state deleted after the client has heard the exit
                self.remove(lambda code=code: self._told_exit(code))
                break
            self._told_exit(code)
            first = False
            if not restart:
                break
            delay = 0.1 if ran_for > 10 else backoff
            backoff = min(delay * 2, 60.0)
            if not self.wait_backoff(delay, code):
                break
        self.maybe_remove()
        os.close(lock_fd)

    def _told_exit(self, code: int) -> None:
        self.report(f"exit {code}")
        self._detach_client()

    def launch(self, first: bool) -> tuple[int, float]:
        from ..container.model import rfc3339nano
        from ..mount import is_mountpoint
        from . import etcfiles
        from .runc import error_from_log, exit_code_for_start_error

        c = self.records.load(self.id)
        spec_mount, merged, home = self.records.rootfs(self.id)
        self.merged = merged
        if spec_mount is not None and spec_mount.type == "overlay":
            os.makedirs(merged, exist_ok=True)
            if not is_mountpoint(merged):
                try:
                    spec_mount.mount(merged, chdir=home)
                except Exception as exc:
                    raise StartError(125, f"error mounting the container's root filesystem: {exc}") from None
        container_dir = self.records.paths.container(self.id)
        network = c.host_config.get("NetworkMode") or "none"
        paths = etcfiles.write_files(container_dir, c.config.get("Hostname") or self.id[:12], network,
                                     c.host_config.get("ExtraHosts"))
        workdir = c.config.get("WorkingDir")
        if workdir:
            _mkdir_in_root(merged, workdir)
        os.makedirs(self.bundle, mode=0o700, exist_ok=True)
        try:
            from ..container.mounts import oci_mounts
            from .spec import build_spec

            init_binary = _init_binary() if c.host_config.get("Init") else None
            spec = build_spec(c, merged, container_dir, oci_mounts(c.mount_points, c.host_config), init_binary)
        except Exception as exc:  # a user or group that is not there, a bad profile
            raise StartError(125, str(exc)) from None
        from ..jsonc import dumps_compact

        with open(os.path.join(self.bundle, "config.json"), "w") as f:
            f.write(dumps_compact(spec))
        log_path = os.path.join(container_dir, f"{self.id}-json.log")
        self.log = JsonLog(log_path)
        tty = bool(c.config.get("Tty"))
        self.tty = tty
        runc_log = os.path.join(self.bundle, "runc.log")
        try:
            os.unlink(runc_log)
        except FileNotFoundError:
            pass
        if self.runtime.has_state(self.id):
            self.runtime.delete(self.id)  # a previous run's state, if a monitor died with it
        pid_file = os.path.join(self.bundle, "pid")
        from ..container import netattach

        # a network to connect needs the created-but-not-started moment (create, attach,
        # start); none and host need no step there, so one ``runc run --detach`` does both
        # halves and saves a launch of the runtime (~10 ms of every ``run``)
        staged = netattach.needs_attach(c)
        args = ["create" if staged else "run", *(() if staged else ("--detach",)),
                "--bundle", self.bundle, "--pid-file", pid_file]
        self.master = -1
        if tty:
            proc, self.master = self._create_with_terminal(args, runc_log)
        else:
            proc = self._create_with_pipes(args, runc_log, bool(c.config.get("OpenStdin")))
        if proc.returncode != 0:
            message = error_from_log(runc_log, proc.stderr or b"")
            if not staged:
                self.runtime.delete(self.id)  # run --detach may fail after its create half
            self._close_io()
            self.log.close()
            raise StartError(exit_code_for_start_error(message), f"failed to create task for container: OCI runtime create failed: {message}: unknown")
        with open(pid_file) as f:
            pid = int(f.read().strip())
        settings = None
        if staged:
            try:
                settings = netattach.attach(self.view, c, pid)
            except Exception as exc:
                self.runtime.delete(self.id)
                self._close_io()
                self.log.close()
                raise StartError(125, f"failed to set up the container's network: {exc}") from None
            started = self.runtime.run("start", self.id, check=False)
            if started.returncode != 0:
                message = error_from_log(runc_log, started.stderr)
                self.runtime.delete(self.id)
                self._close_io()
                self.log.close()
                raise StartError(exit_code_for_start_error(message), f"OCI runtime start failed: {message}: unknown")

        def running(rec):
            rec.state.running = True
            rec.state.paused = False
            rec.state.restarting = False
            rec.state.oom_killed = False
            rec.state.dead = False
            rec.state.pid = pid
            rec.state.exit_code = 0
            rec.state.error = ""
            rec.state.started_at = rfc3339nano()
            if not first:
                rec.restart_count += 1
            else:
                rec.restart_count = 0
            rec.has_been_started_before = True
            rec.log_path = log_path
            rec.hostname_path = paths["HostnamePath"]
            rec.hosts_path = paths["HostsPath"]
            rec.resolv_conf_path = paths["ResolvConfPath"]
            if settings:
                rec.network_settings.update(settings)

        self.records.update(self.id, running)
        return pid, time.monotonic()

    def _create_with_pipes(self, args: list[str], runc_log: str, open_stdin: bool) -> Created:
        from .runc import run_with_stdio

        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        if open_stdin:
            in_r, in_w = os.pipe()
        else:
            in_r, in_w = os.open(os.devnull, os.O_RDONLY), -1
        try:
            code = run_with_stdio(self.runtime.argv(*args, self.id, log=runc_log), in_r, out_w, err_w)
        finally:
            os.close(out_w)
            os.close(err_w)
            os.close(in_r)
        self.out_r, self.err_r, self.in_w = out_r, err_r, in_w
        if code != 0:
            return Created(code, _drain(err_r))
        if args[0] == "create":
            # runc's own chatter before the program runs: not the container's. After ``run
            # --detach`` the program has run already, and what is there is its own output
            _drain(err_r, block=False)
        return Created(code, b"")

    def _create_with_terminal(self, args: list[str], runc_log: str):
        import socket
        import subprocess

        sock_path = os.path.join(self.bundle, "console.sock")
        try:
            os.unlink(sock_path)
        except FileNotFoundError:
            pass
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(sock_path)
        server.listen(1)
        devnull = os.open(os.devnull, os.O_RDWR)
        try:
            child = subprocess.Popen(
                self.runtime.argv(*args, "--console-socket", sock_path, self.id, log=runc_log),
                stdin=devnull, stdout=devnull, stderr=subprocess.PIPE,
            )
            master = -1
            server.settimeout(30)
            try:
                conn, _ = server.accept()
                with conn:
                    _msg, fds, _flags, _addr = socket.recv_fds(conn, 4096, 1)
                    master = fds[0] if fds else -1
            except OSError:
                master = -1
            _, err = child.communicate()
            child.stderr = err
        finally:
            server.close()
            os.close(devnull)
            try:
                os.unlink(sock_path)
            except FileNotFoundError:
                pass
        self.out_r = self.err_r = self.in_w = -1
        if master >= 0:
            self._apply_winsize(master)
        return child, master

    def _apply_winsize(self, master: int) -> None:
        import termios

        for fd in (self.sink_in, self.sink_out):
            if fd >= 0 and os.isatty(fd):
                try:
                    size = fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
                    fcntl.ioctl(master, termios.TIOCSWINSZ, size)
                    return
                except OSError:
                    continue

    def _close_io(self) -> None:
        for attr in ("out_r", "err_r", "in_w", "master"):
            fd = getattr(self, attr, -1)
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
                setattr(self, attr, -1)

    # the running container ---------------------------------------------------------------
    def pump(self, pid: int) -> tuple[int, bool]:
        """Copy output to the log and the client until the container exits; its exit code."""
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            pidfd = -1
        poller = select.poll()
        sources: dict[int, str] = {}
        if self.tty:
            if self.master >= 0:
                sources[self.master] = "stdout"
        else:
            sources[self.out_r] = "stdout"
            sources[self.err_r] = "stderr"
        for fd in sources:
            poller.register(fd, select.POLLIN)
        if self.sink_in >= 0 and (self.in_w >= 0 or self.master >= 0):
            poller.register(self.sink_in, select.POLLIN)
        if self.winch_fd >= 0:
            poller.register(self.winch_fd, select.POLLIN)
        if pidfd >= 0:
            poller.register(pidfd, select.POLLIN)
        status = None
        exited_at = None
        idle_at = time.monotonic() + IDLE_AFTER if self._detached() else None
        while sources:
            if pidfd < 0 or exited_at is not None:
                timeout = 100
            elif idle_at is not None:
                timeout = max(0, int((idle_at - time.monotonic()) * 1000) + 1)
            else:
                timeout = None
            for fd, _event in poller.poll(timeout):
                if fd in sources:
                    try:
                        data = os.read(fd, 65536)
                    except OSError as exc:
                        data = b"" if exc.errno in (errno.EIO, errno.EBADF) else b""
                    if not data:
                        poller.unregister(fd)
                        del sources[fd]
                        continue
                    self._output(sources[fd], data)
                elif fd == self.sink_in:
                    self._input(poller)
                elif fd == self.winch_fd:
                    try:
                        os.read(self.winch_fd, 64)
                    except OSError:
                        pass
                    if self.master >= 0:
                        self._apply_winsize(self.master)
                elif fd == pidfd:
                    poller.unregister(pidfd)
                    status = _reap(pid)
                    exited_at = time.monotonic()
            if status is None and pidfd < 0:
                status = _reap(pid, block=False)
                if status is not None:
                    exited_at = time.monotonic()
            if exited_at is not None and time.monotonic() - exited_at > 2:
                break  # a process that escaped the pid namespace's end holds the pipe: stop reading
            if idle_at is not None and status is None and time.monotonic() >= idle_at:
                idle_at = None
                self._become_idle(pid, sources)  # returns only if the exec failed
        if status is None:
            status = _reap(pid)
        if pidfd >= 0:
            os.close(pidfd)
        return self._ended(status)

    def _ended(self, status: int | None) -> tuple[int, bool]:
        """The log closed, the pipes closed, the exit code (128+n for signal n) and OOM flag."""
        self.log.close()
        oom = self._oom_killed()
        self._close_io()
        code = os.waitstatus_to_exitcode(status) if status is not None else 255
        if code < 0:
            code = 128 - code
        return code, oom

    def _detached(self) -> bool:
        """No client is attached (``run -d``, ``start`` without ``-a``): nothing but the log
        reads the output, so the idle form can watch the container."""
        return self.sink_in < 0 and self.sink_out < 0 and self.sink_err < 0 and self.winch_fd < 0

    def _become_idle(self, pid: int, sources: dict[int, str]) -> None:
        """Replace this process by the idle form of the monitor (``runtime.waiter``): the same
        process (the container's parent, its subreaper mark, its flock and pipes kept), a fresh
        ``python3 -I -S`` that has loaded next to nothing. A forked monitor carries the
        heap of the ``lamina run`` it came from (and a started one the network, the spec,
        the seccomp profile); an idle container should cost what containerd-shim does."""
        from ..jsonc import dumps_compact

        state = {
            "opts": {**self.opts, "status_fd": -1, "stdin": -1, "stdout": -1, "stderr": -1, "winch_fd": -1},
            "pid": pid, "lock_fd": self.lock_fd, "backoff": self.backoff,
            "ran_for": time.monotonic() - self.started, "tty": self.tty, "merged": self.merged,
            "sources": {str(fd): stream for fd, stream in sources.items()},
            "out_r": self.out_r, "err_r": self.err_r, "in_w": self.in_w, "master": self.master,
            "log_fd": self.log.fd, "partial": {k: v.decode("latin-1") for k, v in self.log.partial.items()},
        }
        kept = [self.lock_fd, self.log.fd, self.out_r, self.err_r, self.in_w, self.master]
        for fd in kept:
            if fd >= 0:
                os.set_inheritable(fd, True)
        self._close_status()
        here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        code = "import sys; sys.path.insert(0, sys.argv.pop(1)); from lamina.runtime.waiter import main; main()"
        try:
            os.execv(sys.executable, [sys.executable, "-I", "-S", "-c", code, here, dumps_compact(state)])
        except OSError:
            for fd in kept:
                if fd >= 0:
                    os.set_inheritable(fd, False)

    def _output(self, stream: str, data: bytes) -> None:
        self.log.write(stream, data)
        sink = self.sink_err if stream == "stderr" else self.sink_out
        if sink >= 0:
            try:
                _write_all(sink, data)
            except OSError:
                self.sink_out = self.sink_err = -1  # the client went away; the log keeps going

    def _input(self, poller) -> None:
        target = self.master if self.tty else self.in_w
        try:
            data = os.read(self.sink_in, 65536)
        except OSError:
            data = b""
        if not data:
            poller.unregister(self.sink_in)
            self.sink_in = -1
            if not self.tty and self.in_w >= 0:
                os.close(self.in_w)  # stdin closed: the container sees end of file
                self.in_w = -1
            return
        try:
            _write_all(target, data)
        except OSError:
            pass

    def _oom_killed(self) -> bool:
        for path in (f"/sys/fs/cgroup/memory/lamina/{self.id}/memory.oom_control",
                     f"/sys/fs/cgroup/lamina/{self.id}/memory.events"):
            try:
                with open(path) as f:
                    for line in f:
                        key, _, value = line.partition(" ")
                        if key == "oom_kill" and int(value) > 0:
                            return True
            except (OSError, ValueError):
                continue
        return False

    def finish(self, code: int, oom: bool, removing: bool = False) -> None:
        """The container has exited: its network released; unless it is ``removing`` (whose
        ``remove`` does the rest once the client has heard the exit), the runtime's state
        deleted, its root unmounted and the exit recorded."""
        from ..container.model import rfc3339nano

        if not removing:
            self.runtime.delete(self.id)
            self._unmount()
        try:
            c = self.records.load(self.id)
            from ..container import netattach

            netattach.detach(self.view, c)  # before the client returns: an address it may reuse
        except Exception:
            pass
        if removing:
            return

        def stopped(rec):
            rec.state.running = False
            rec.state.paused = False
            rec.state.pid = 0
            rec.state.exit_code = code
            rec.state.oom_killed = oom
            rec.state.finished_at = rfc3339nano()

        self.records.update(self.id, stopped)

    def _unmount(self) -> None:
        from ..mount import is_mountpoint, unmount

        if self.merged and self.view.driver.name == "overlay2":
            if is_mountpoint(self.merged):
                try:
                    unmount(self.merged)
                except Exception:
                    unmount(self.merged, detach=True)
            try:
                os.rmdir(self.merged)
            except OSError:
                pass

    def fail_start(self, exc: StartError) -> None:
        from ..container.model import rfc3339nano

        self._unmount()
        if self.auto_remove():
            # ``run --rm`` of a command that cannot start: gone before the client hears why
            self.remove(lambda: self.report(f"error {exc.code} {exc}"))
            return

        def failed(rec):
            rec.state.running = False
            rec.state.pid = 0
            rec.state.exit_code = exc.code if exc.code in (126, 127) else 128
            rec.state.error = str(exc)
            if rec.state.started_at == "0001-01-01T00:00:00Z":
                pass
            rec.state.finished_at = rfc3339nano()

        try:
            self.records.update(self.id, failed)
        except Exception:
            pass
        self.report(f"error {exc.code} {exc}")

    def should_restart(self, code: int) -> bool:
        try:
            c = self.records.load(self.id)
        except Exception:
            return False
        if c.has_been_manually_stopped or c.host_config.get("AutoRemove"):
            return False
        policy = c.restart_policy
        name = policy.get("Name") or "no"
        if name in ("always", "unless-stopped"):
            return True
        if name == "on-failure":
            limit = policy.get("MaximumRetryCount") or 0
            return code != 0 and (limit == 0 or c.restart_count < limit)
        return False

    def wait_backoff(self, delay: float, code: int) -> bool:
        """Show Restarting during the pause; False if a ``stop`` came meanwhile."""

        def restarting(rec):
            rec.state.running = True
            rec.state.restarting = True
            rec.state.exit_code = code

        self.records.update(self.id, restarting)
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline:
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
            c = self.records.load(self.id)
            if c.has_been_manually_stopped:
                def halted(rec):
                    rec.state.running = False
                    rec.state.restarting = False

                self.records.update(self.id, halted)
                return False
        return True

    def auto_remove(self) -> bool:
        """Whether the container goes when it stops (``--rm``; a forced ``rm`` clears it)."""
        try:
            return bool(self.records.load(self.id).host_config.get("AutoRemove"))
        except Exception:
            return False

    def maybe_remove(self) -> None:
        """``--rm`` of a container whose monitor leaves by another way (a stop during a
        restart's pause)."""
        if not self.removed and self.auto_remove():
            self.remove(None)

    def remove(self, unpublished) -> None:
        """Remove the container; ``unpublished()`` runs once it is out of the namespace (the
        name is free, ``ps -a`` no longer lists it), before its layers go. Then the runtime's
        state, the bundle and the monitor's lock file: nothing of it stays under the exec root."""
        self.removed = True
        told = False
        try:
            points = self.records.load(self.id).mount_points or {}
        except Exception:
            points = {}

        def then() -> None:
            nonlocal told
            told = True
            if any(isinstance(p, dict) and p.get("Type") == "volume" for p in points.values()):
                # docker's --rm takes the anonymous volumes (an image's VOLUME) with the
                # container, before its client returns
                try:
                    from ..volume import remove_anonymous

                    remove_anonymous(self.view, points)
                except Exception:
                    pass  # a volume left behind is listed by `volume ls` and `volume prune` takes it
            if unpublished is not None:
                unpublished()
            self._unmount()  # before the layers go (the driver would only detach it)
            if self.runtime.has_state(self.id):
                self.runtime.delete(self.id)

        try:
            self.records.remove(self.id, unpublished=then)
        except Exception:
            pass
        if not told:  # removal failed before the rename: still tell the client, still clean up
            then()
        import shutil

        shutil.rmtree(self.bundle, ignore_errors=True)
        try:
            os.unlink(lock_path(self.exec_root, self.id))  # flock still held: no other monitor races it
        except OSError:
            pass


class Created:
    """How ``runc create`` (or ``run --detach``) ended: its status and, on failure, its stderr."""

    __slots__ = ("returncode", "stderr")

    def __init__(self, returncode: int, stderr: bytes) -> None:
        self.returncode, self.stderr = returncode, stderr


def _init_binary() -> str | None:
    """The ``--init`` program to bind-mount (docker-init, else tini), found on PATH."""
    import shutil

    return shutil.which("docker-init") or shutil.which("tini-static") or shutil.which("tini")


def _mkdir_in_root(root: str, path: str) -> None:
    """Create the working directory inside the container's tree (never through a symlink out)."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in [p for p in path.split("/") if p and p != "."]:
            if part == "..":
                continue
            try:
                os.mkdir(part, 0o755, dir_fd=fd)
            except FileExistsError:
                pass
            try:
                nfd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except OSError:
                return  # a symlink or a file: runc resolves it inside the container
            os.close(fd)
            fd = nfd
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [], 1)
            continue
        view = view[n:]


def _drain(fd: int, block: bool = True) -> bytes:
    if not block:
        os.set_blocking(fd, False)
    chunks = []
    try:
        while True:
            data = os.read(fd, 65536)
            if not data:
                break
            chunks.append(data)
    except BlockingIOError:
        pass
    finally:
        if not block:
            os.set_blocking(fd, True)
    return b"".join(chunks)


def _reap(pid: int, block: bool = True):
    try:
        got, status = os.waitpid(pid, 0 if block else os.WNOHANG)
    except ChildProcessError:
        return 255 << 8 if block else None
    if got == 0:
        return None
    return status


#: the monitor's process name (``/proc/<pid>/comm``, what ``ps -e`` and ``pgrep`` show): a monitor
#: forked from ``lamina run`` would otherwise go by the CLI's name
PROCESS_NAME = b"lamina-monitor"


def _set_subreaper() -> None:
    import ctypes

    PR_SET_NAME, PR_SET_CHILD_SUBREAPER = 15, 36
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    libc.prctl(PR_SET_NAME, ctypes.c_char_p(PROCESS_NAME), 0, 0, 0)


def resume(state: dict, log: JsonLog, status: int | None) -> None:
    """The idle form's way back (``runtime.waiter``): the container it watched has exited with
    ``status``; record it and go on (restart, ``--rm``) as the monitor it was; never returns."""
    try:
        monitor = Monitor(state["opts"])
        monitor.log, monitor.tty, monitor.merged = log, state["tty"], state["merged"]
        monitor.out_r, monitor.err_r, monitor.in_w, monitor.master = (
            state["out_r"], state["err_r"], state["in_w"], state["master"])
        monitor.run(resumed=state, status=status)
    except Exception:
        pass
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    """``python3 -S -m lamina.runtime.monitor '<json options>'``: detach and run."""
    from ..jsonc import loads

    args = sys.argv[1:] if argv is None else argv
    detach_and_run(loads(args[0]))


def detach_and_run(opts: dict) -> None:
    """Fork once more (the spawner reaps the first child at once, so the monitor is nobody's
    zombie), leave the client's session, and run the monitor; never returns."""
    if os.fork() > 0:
        os._exit(0)  # the spawner reaps us at once; the monitor lives on, reparented
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    try:
        Monitor(opts).run()
    except Exception as exc:  # last resort: say why on the status pipe if the client still listens
        fd = opts.get("status_fd", -1)
        if fd >= 0:
            try:
                os.write(fd, f"error 125 monitor failed: {exc}\n".encode())
            except OSError:
                pass
    os._exit(0)


if __name__ == "__main__":
    main()
