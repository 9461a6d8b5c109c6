"""The build context: where COPY and ADD read from, and where the Dockerfile comes from.

A context is a directory on this host. It can come from

* a directory (``lamina build DIR``): used in place, nothing is copied or sent;
* ``-`` on stdin: a tar (plain, gzip, bzip2 or xz) of the context, extracted safely into a
  temporary directory, or a bare Dockerfile (then the context is empty);
* a git repository URL (``https://…/repo.git``, ``git://…``, ``git@…``, ``github.com/…`` or a
  local ``file://`` URL), with docker's fragment ``#<ref>:<subdir>``: cloned with
  ``git clone --depth 1 --recursive`` (or fetched at ``ref``), the ``.git`` directory dropped.

``.dockerignore`` at the context root is applied to everything COPY/ADD read: an ignored path
does not exist for them. The Dockerfile and ``.dockerignore`` themselves are always read.

Every source path is resolved inside the context: ``..`` that climbs out of it, or a symlink
whose target lies outside it, is refused (BuildKit's "forbidden path outside the build
context"), whatever the Dockerfile says.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat

from ..errors import InvalidArgument, NotFound
from ..value import Value
from .dockerignore import IgnoreMatcher, read_dockerignore

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: ``build`` is on the lean command path
    from collections.abc import Iterator
    from typing import BinaryIO

__all__ = ["BuildContext", "ContextError", "open_context", "is_git_url", "parse_git_url", "GitRef"]

_WILDCARDS = re.compile(r"[*?\[]")


class ContextError(InvalidArgument):
    pass


class BuildContext:
    def __init__(
        self,
        root: str | None,
        dockerfile: bytes,
        dockerfile_name: str,
        ignore: IgnoreMatcher | None = None,
        _cleanup: list[str] | None = None,
    ) -> None:
        #: the directory COPY/ADD read from (None: an empty context, Dockerfile from stdin)
        self.root = root
        self.dockerfile = dockerfile
        #: the Dockerfile's path relative to the context root (for messages and lamina-build)
        self.dockerfile_name = dockerfile_name
        self.ignore = IgnoreMatcher() if ignore is None else ignore
        self._cleanup = [] if _cleanup is None else _cleanup

    def close(self) -> None:
        if not self._cleanup:
            return
        import shutil

        for path in self._cleanup:
            shutil.rmtree(path, ignore_errors=True)
        self._cleanup.clear()

    def __enter__(self) -> BuildContext:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # what docker would send ----------------------------------------------------------------
    def transfer_size(self) -> int:
        """Bytes of the tar docker's client would send for this context: 512-byte headers,
        content padded to 512, the 1 KiB trailer (the "Sending build context" figure)."""
        if self.root is None:
            return 0
        total = 1024
        for _rel, st in self.walk(""):
            total += 512
            if stat.S_ISREG(st.st_mode):
                total += (st.st_size + 511) // 512 * 512
        return total

    # resolving sources ---------------------------------------------------------------------
    def clean(self, src: str) -> str:
        """A source as a path relative to the root ('' for the root), refusing escapes."""
        text = src.replace("\\", "/") if os.sep != "/" else src
        rel = posixpath.normpath(text.lstrip("/")) if text.strip("/") else "."
        if rel == ".." or rel.startswith("../"):
            raise ContextError(f"forbidden path outside the build context: {src}")
        return "" if rel == "." else rel

    def resolve(self, rel: str, src: str) -> str:
        """The real path of ``rel`` inside the root, symlinks followed but never out of it."""
        if self.root is None:
            raise NotFound(f"file not found in build context or excluded by .dockerignore: stat {src}: file does not exist")
        root = os.path.realpath(self.root)
        path = os.path.realpath(os.path.join(root, rel))
        if path != root and not path.startswith(root + os.sep):
            raise ContextError(f"forbidden path outside the build context: {src} ({path})")
        return path

    def rel_of(self, real: str) -> str:
        root = os.path.realpath(self.root or "/")
        return "" if real == root else os.path.relpath(real, root)

    def find(self, src: str) -> list[str]:
        """Context-relative paths a COPY/ADD source names: one path, or every path a
        wildcard pattern matches (sorted). Raises NotFound as docker words it."""
        rel = self.clean(src)
        if _WILDCARDS.search(rel):
            matches = [r for r, _ in self.walk("") if _match(rel, r)]
            if not matches:
                raise NotFound(f"no source files were specified (pattern {src!r} matched nothing)")
            # a matched directory already brings what is below it
            out: list[str] = []
            for r in sorted(matches):
                if not any(r.startswith(o + "/") for o in out):
                    out.append(r)
            return out
        real = self.resolve(rel, src)
        real_rel = self.rel_of(real)
        if (rel and self.ignore.ignored(rel)) or (real_rel and self.ignore.ignored(real_rel)) or not os.path.lexists(real):
            raise NotFound(
                f"file not found in build context or excluded by .dockerignore: stat {src}: file does not exist"
            )
        return [rel]

    def walk(self, rel: str) -> Iterator[tuple[str, os.stat_result]]:
        """Entries below ``rel`` (not ``rel`` itself), depth first in byte order, ignored paths
        left out; symlinks are not followed."""
        if self.root is None:
            return
        base = os.path.join(self.root, rel) if rel else self.root
        yield from self._walk(base, rel)

    def _walk(self, directory: str, rel: str) -> Iterator[tuple[str, os.stat_result]]:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: os.fsencode(e.name))
        except (NotADirectoryError, FileNotFoundError):
            return
        for entry in entries:
            child = f"{rel}/{entry.name}" if rel else entry.name
            st = entry.stat(follow_symlinks=False)
            is_dir = stat.S_ISDIR(st.st_mode)
            if self.ignore and self.ignore.ignored(child):
                if is_dir and self.ignore.may_hold_included(child):
                    yield from self._walk(entry.path, child)
                continue
            yield child, st
            if is_dir:
                yield from self._walk(entry.path, child)

    def path(self, rel: str) -> str:
        assert self.root is not None
        return os.path.join(self.root, rel) if rel else self.root


def _match(pattern: str, path: str) -> bool:
    """Go's filepath.Match: the whole path, ``*`` and ``?`` not crossing ``/``."""
    if pattern.count("/") != path.count("/"):
        return False
    import fnmatch

    return all(fnmatch.fnmatchcase(p, q) for p, q in zip(path.split("/"), pattern.split("/"), strict=True))


# opening a context ----------------------------------------------------------------------------


def open_context(
    source: str,
    dockerfile: str | None = None,
    stdin: BinaryIO | None = None,
    cwd: str | None = None,
) -> BuildContext:
    """Open ``source`` (a directory, ``-`` or a git URL) with the Dockerfile ``dockerfile``
    (``-f``: relative to ``cwd`` for a directory context as docker's client has it, relative
    to the context for a git or tar one; ``-`` reads it from stdin)."""
    cwd = cwd or os.getcwd()
    stdin_dockerfile: bytes | None = None
    if dockerfile == "-":
        if source == "-":
            raise InvalidArgument("invalid argument: can't use stdin for both build context and dockerfile")
        stdin_dockerfile = _read_all(stdin)
    if source == "-":
        ctx = _context_from_stdin(stdin, dockerfile)
    elif is_git_url(source):
        ctx = _context_from_git(source, dockerfile)
    else:
        ctx = _context_from_dir(os.path.join(cwd, source), dockerfile, cwd, stdin_dockerfile is not None)
    if stdin_dockerfile is not None:
        ctx.dockerfile, ctx.dockerfile_name = stdin_dockerfile, "Dockerfile"
    _load_ignore(ctx)
    return ctx


def _read_all(stream: BinaryIO | None) -> bytes:
    if stream is None:
        raise InvalidArgument("no standard input to read the build context or Dockerfile from")
    return stream.read()


def _load_ignore(ctx: BuildContext) -> None:
    if ctx.root is None:
        return
    path = os.path.join(ctx.root, ".dockerignore")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return
    except (OSError, UnicodeDecodeError) as exc:
        raise ContextError(f"error reading .dockerignore: {exc}") from None
    try:
        ctx.ignore = read_dockerignore(text)
    except (ValueError, re.error) as exc:
        raise ContextError(f"error reading .dockerignore: {exc}") from None


def _read_dockerfile_in(root: str, name: str | None) -> tuple[bytes, str]:
    candidates = [name] if name else ["Dockerfile", "dockerfile"]
    for cand in candidates:
        path = os.path.join(root, cand)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                return f.read(), cand
    shown = name or "Dockerfile"
    raise NotFound(f"Cannot locate specified Dockerfile: {shown}")


def _context_from_dir(directory: str, dockerfile: str | None, cwd: str, stdin_df: bool) -> BuildContext:
    if not os.path.isdir(directory):
        raise NotFound(f'unable to prepare context: path "{directory}" not found')
    root = os.path.abspath(directory)
    if stdin_df:
        return BuildContext(root, b"", "Dockerfile")
    if dockerfile:
        path = os.path.join(cwd, dockerfile)
        if not os.path.isfile(path):
            raise NotFound(f"Cannot locate specified Dockerfile: {dockerfile}")
        with open(path, "rb") as f:
            text = f.read()
        return BuildContext(root, text, os.path.relpath(os.path.abspath(path), root))
    text, name = _read_dockerfile_in(root, None)
    return BuildContext(root, text, name)


def _context_from_stdin(stdin: BinaryIO | None, dockerfile: str | None) -> BuildContext:
    data = _read_all(stdin)
    from ..archive.compression import detect

    if _looks_like_tar(data) or detect(data[:8]) != "none":
        import tempfile

        tmp = tempfile.mkdtemp(prefix="lamina-build-context-")
        ctx = BuildContext(tmp, b"", "", _cleanup=[tmp])
        try:
            _extract_tar(data, tmp)
            ctx.dockerfile, ctx.dockerfile_name = _read_dockerfile_in(tmp, dockerfile)
        except BaseException:
            ctx.close()
            raise
        return ctx
    return BuildContext(None, data, "Dockerfile")


def _looks_like_tar(data: bytes) -> bool:
    return len(data) >= 512 and data[257:262] == b"ustar"


def _extract_tar(data: bytes, dest: str) -> None:
    """Extract a context tar through lamina's safe layer extractor (no escapes, no devices
    owned by anyone but us), so a hostile context cannot write outside ``dest``."""
    import io

    from ..archive.apply import apply_layer
    from ..archive.compression import open_decompressed

    stream = open_decompressed(io.BytesIO(data))
    apply_layer(stream, dest, whiteouts="delete", same_owner=False)


# git contexts --------------------------------------------------------------------------------

_GIT_PREFIXES = ("git://", "git@", "github.com/", "file://")


def is_git_url(source: str) -> bool:
    """docker's urlutil.IsGitURL, plus local ``file://`` repositories."""
    if source.startswith(_GIT_PREFIXES):
        return True
    if re.match(r"^https?://", source):
        return source.split("#", 1)[0].endswith(".git")
    return False


class GitRef(Value):
    __slots__ = ("remote", "ref", "subdir")
    remote: str
    ref: str  # "" for the default branch
    subdir: str

    def __init__(self, remote: str, ref: str, subdir: str) -> None:
        self._init(remote=remote, ref=ref, subdir=subdir)


def parse_git_url(source: str) -> GitRef:
    """Split docker's ``repo#ref:subdir`` (seed 002's table): ``#mytag``, ``#:dir``,
    ``#branch:dir``, ``#abcdef:dir``."""
    remote, _, fragment = source.partition("#")
    if remote.startswith("github.com/"):
        remote = "https://" + remote
    ref, _, subdir = fragment.partition(":")
    if ref.startswith("-"):
        raise InvalidArgument(f"invalid git ref {ref!r}")
    return GitRef(remote, ref, subdir)


def _git(args: list[str], cwd: str | None = None) -> None:
    import subprocess

    env = dict(os.environ, GIT_TERMINAL_PROMPT="0")
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise ContextError("unable to prepare context: git is not installed") from None
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise ContextError(
            f"unable to prepare context: git {args[0]} failed: {detail[-1] if detail else proc.returncode}"
        )


def _context_from_git(source: str, dockerfile: str | None) -> BuildContext:
    import shutil
    import tempfile

    ref = parse_git_url(source)
    tmp = tempfile.mkdtemp(prefix="lamina-build-git-")
    ctx = BuildContext(tmp, b"", "", _cleanup=[tmp])
    try:
        checkout = os.path.join(tmp, "repo")
        if not ref.ref:
            _git(["clone", "--depth", "1", "--recursive", "--", ref.remote, checkout])
        else:
            os.mkdir(checkout)
            _git(["init", "-q"], checkout)
            _git(["remote", "add", "origin", ref.remote], checkout)
            try:
                _git(["fetch", "-q", "--depth", "1", "origin", "--", ref.ref], checkout)
            except ContextError:
                # a commit id a server will not hand out shallowly: fetch everything
                _git(["fetch", "-q", "origin"], checkout)
            try:
                _git(["checkout", "-q", "FETCH_HEAD"], checkout)
            except ContextError:
                _git(["checkout", "-q", ref.ref], checkout)
            _git(["submodule", "update", "-q", "--init", "--recursive", "--depth", "1"], checkout)
        shutil.rmtree(os.path.join(checkout, ".git"), ignore_errors=True)
        root = checkout
        if ref.subdir:
            real = os.path.realpath(os.path.join(checkout, ref.subdir))
            if real != os.path.realpath(checkout) and not real.startswith(os.path.realpath(checkout) + os.sep):
                raise ContextError(f"subdir {ref.subdir!r} is outside of the git repository")
            if not os.path.isdir(real):
                raise NotFound(f"unable to prepare context: subdir {ref.subdir!r} not found in the repository")
            root = real
        ctx.root = root
        ctx.dockerfile, ctx.dockerfile_name = _read_dockerfile_in(root, dockerfile)
    except BaseException:
        ctx.close()
        raise
    return ctx
