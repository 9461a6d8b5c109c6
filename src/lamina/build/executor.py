"""The build executor: docker's classic builder model, on lamina's store.

Every instruction after FROM commits an image (``lamina.image.commit``) whose imagedb parent is
the image before it; the intermediate images stay as ``<none>:<none>`` (``images -a``) and are
the build cache. A step is a cache hit when a child of the current image, built here, has the
same ``container_config`` as the step would write: that config's Cmd carries the instruction
(``/bin/sh -c #(nop)  ENV a=b``, ``/bin/sh -c apt-get update``, ``|1 a=b /bin/sh -c …`` with
build args, ``#(nop) COPY file:<sum> in /dest`` with the copied content's checksum) and the rest
of it the environment, labels, user, workdir… the step runs with, exactly as docker compares
them. Metadata-only instructions commit an image without a layer (``empty_layer``).

COPY and ADD never need a container: their layer tar is written from the context (or another
stage's, or an image's, layers) straight into the store (``build.copier``). RUN runs the
command in a real container (``engine.containers``) and commits its upper directory.

Each image built records the Dockerfile line that made it in
``imagedb/metadata/sha256/<id>/lamina-build`` (``store.paths``): the config stays as docker
writes it, so image IDs remain comparable.
"""

from __future__ import annotations

import copy
import json
import os
import posixpath
import re
import stat
import time
from collections.abc import Callable, Mapping

from ..digest import Digest
from ..errors import InvalidArgument, LaminaError, NotFound
from ..image import config as cfg
from . import copier
from .args import BuildArgs
from .context import BuildContext
from .gofmt import go_duration, go_quote_list, parse_go_duration_ns
from .imagefs import ImageFS, listdir, lookup_user, normalize_dest
from .parser import Dockerfile, DockerfileError, Node, parse
from .shell import ShellLex

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: ``build`` is on the lean command path (lamina.value says why)
    from typing import Any, BinaryIO

    from ..engine import Engine

__all__ = ["BuildOptions", "BuildResult", "BuildError", "StepFailed", "Builder", "build"]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHELL = ["/bin/sh", "-c"]
BUILD_META = "lamina-build"
COPY_SUMS_META = "lamina-build-sums"

_ALLOWED_FLAGS = {
    "from": {"platform"},
    "copy": {"from", "chown", "chmod"},
    "add": {"chown", "chmod"},
    "run": {"network"},
    "healthcheck": {"interval", "timeout", "start-period", "start-interval", "retries"},
}


class BuildError(LaminaError):
    """A build step that cannot be done (the message says which step and why)."""


class StepFailed(BuildError):
    """A RUN whose command exited non-zero: docker's wording, and its exit code."""

    def __init__(self, command: str, code: int) -> None:
        super().__init__(f"The command '{command}' returned a non-zero code: {code}")
        self.code = code


class BuildOptions:
    """How to build (the command line's options). Plain classes here and below, not
    dataclasses: ``build`` is on the lean command path."""

    __slots__ = ("tags", "build_args", "no_cache", "pull", "target", "labels", "squash", "network", "remove",
                 "force_remove", "explain_cache", "platform", "source_date_epoch")

    def __init__(
        self,
        tags: tuple[str, ...] = (),
        build_args: Mapping[str, str | None] | None = None,
        no_cache: bool = False,
        pull: bool = False,
        target: str | None = None,
        labels: Mapping[str, str] | None = None,
        squash: bool = False,
        network: str = "host",
        remove: bool = True,
        force_remove: bool = False,
        explain_cache: bool = False,
        platform: str | None = None,
        source_date_epoch: int | None = None,
    ) -> None:
        self.tags = tags
        self.build_args = {} if build_args is None else build_args
        self.no_cache = no_cache
        self.pull = pull
        self.target = target
        self.labels = {} if labels is None else labels
        self.squash = squash
        self.network = network
        self.remove = remove
        self.force_remove = force_remove
        self.explain_cache = explain_cache
        self.platform = platform
        #: clamp layer times and ``created`` (SOURCE_DATE_EPOCH); None: the build's own times
        self.source_date_epoch = source_date_epoch


class StepRecord:
    __slots__ = ("number", "text", "image_id", "cached", "miss_reason")

    def __init__(self, number: int, text: str, image_id: Digest | None, cached: bool, miss_reason: str = "") -> None:
        self.number = number
        self.text = text
        self.image_id = image_id
        self.cached = cached
        self.miss_reason = miss_reason

    def __repr__(self) -> str:
        return f"StepRecord({self.number}, {self.text!r}, cached={self.cached})"


class BuildResult:
    def __init__(self, image_id: Digest, tags: list[str], steps: list[StepRecord], warnings: list[str]) -> None:
        self.image_id = image_id
        self.tags = tags
        self.steps = steps
        self.warnings = warnings


Emit = Callable[[str], None]


class _Stage:
    __slots__ = ("index", "name", "from_node", "nodes", "image_id", "base_id", "done")

    def __init__(self, index: int, name: str, from_node: Node, nodes: list[Node]) -> None:
        self.index = index
        self.name = name  # lower case, "" when unnamed
        self.from_node = from_node
        self.nodes = nodes
        self.image_id: Digest | None = None
        #: the image FROM named (None for scratch): what --squash squashes onto
        self.base_id: Digest | None = None
        self.done = False


class _State:
    """dispatchState: what the stage being built has so far."""

    __slots__ = ("image_id", "run_config", "maintainer", "cmd_set", "doc", "stage")

    def __init__(self, image_id: Digest | None, run_config: dict[str, Any], stage: _Stage | None = None) -> None:
        self.image_id = image_id
        self.run_config = run_config
        self.maintainer = ""
        self.cmd_set = False
        self.doc: dict[str, Any] = {}
        self.stage = stage


def build(
    engine: Engine,
    context: BuildContext,
    options: BuildOptions,
    emit: Emit = lambda line: None,
    output: BinaryIO | None = None,
) -> BuildResult:
    return Builder(engine, context, options, emit, output).run()


class Builder:
    def __init__(
        self,
        engine: Engine,
        context: BuildContext,
        options: BuildOptions,
        emit: Emit,
        output: BinaryIO | None = None,
    ) -> None:
        self.engine = engine
        self.store = engine.store
        self.images = engine.images
        self.context = context
        self.options = options
        self.emit = emit
        self.output = output
        self.args = BuildArgs(options.build_args)
        self.lex = ShellLex()
        self.steps: list[StepRecord] = []
        self.step_no = 0
        self.total = 0
        self.started = int(time.time())
        self.children: dict[str, list[Digest]] | None = None
        self.warnings: list[str] = []
        self.sums = copier.SumCache(os.path.join(self.store.paths.root, "build", "sums.json"))

    # the whole build -------------------------------------------------------------------------
    def run(self) -> BuildResult:
        dockerfile = parse(self.context.dockerfile, self.context.dockerfile_name or "Dockerfile")
        self.lex = ShellLex(dockerfile.escape)
        self.warnings += dockerfile.warnings
        meta, stages = self._split(dockerfile)
        target = self._target(stages)
        if self.options.labels:
            line = "LABEL " + " ".join(f'"{k}"="{v}"' for k, v in self.options.labels.items())
            extra = parse(line, "--label").nodes[0]
            extra.start_line = extra.end_line = 0
            target.nodes.append(extra)
        needed = self._needed(stages, target)
        self.total = len(meta) + sum(1 + len(s.nodes) for s in stages if s.index in needed)
        with self.images.changes():  # the catalog is written again once, after the tags too
            for node in meta:
                self._step_header(node)
                self._meta_arg(node)
            state: _State | None = None
            try:
                for stage in stages:
                    if stage.index not in needed:
                        continue
                    state = self._build_stage(stage, stages)
                    if stage is target:
                        break
            finally:
                self.sums.save()
            assert state is not None
            if state.image_id is None:
                raise BuildError("No image was generated. Is your Dockerfile empty?")
            image_id = state.image_id
            if self.options.squash:
                image_id = self._squash(target, image_id)
            for name in self.args.unconsumed():
                self.warnings.append(f"[Warning] One or more build-args [{name}] were not consumed")
            tags = []
            for tag in self.options.tags:
                self.images.tag(str(image_id), tag)
                tags.append(tag)
        return BuildResult(image_id, tags, self.steps, self.warnings)

    def _split(self, dockerfile: Dockerfile) -> tuple[list[Node], list[_Stage]]:
        meta: list[Node] = []
        stages: list[_Stage] = []
        for node in dockerfile.nodes:
            if node.instruction == "from":
                name = ""
                args = node.args
                if len(args) == 3 and args[1].lower() == "as":
                    name = args[2].lower()
                    if not re.match(r"^[a-z][a-z0-9\-_.]*$", name):
                        raise DockerfileError(
                            f"{dockerfile.filename}:{node.start_line}: invalid name for build stage: "
                            f"{args[2]!r}, name can't start with a number or contain symbols"
                        )
                    if any(s.name == name for s in stages):
                        raise DockerfileError(
                            f"{dockerfile.filename}:{node.start_line}: duplicate name {args[2]!r}"
                        )
                elif len(args) != 1:
                    raise DockerfileError(
                        f"{dockerfile.filename}:{node.start_line}: FROM requires either one or three arguments"
                    )
                stages.append(_Stage(len(stages), name, node, []))
            elif not stages:
                if node.instruction != "arg":
                    raise DockerfileError(
                        f"{dockerfile.filename}:{node.start_line}: no build stage in current context "
                        f"({node.keyword} before the first FROM)"
                    )
                meta.append(node)
            else:
                stages[-1].nodes.append(node)
        if not stages:
            raise DockerfileError(f"{dockerfile.filename}: file with no instructions")
        return meta, stages

    def _target(self, stages: list[_Stage]) -> _Stage:
        if not self.options.target:
            return stages[-1]
        wanted = self.options.target.lower()
        for stage in stages:
            if stage.name == wanted:
                return stage
        raise BuildError(f"failed to reach build target {self.options.target} in Dockerfile")

    def _needed(self, stages: list[_Stage], target: _Stage) -> set[int]:
        """The stages ``target`` depends on (FROM <stage>, COPY --from=<stage>), itself
        included; the others are skipped, as BuildKit skips them."""
        by_name = {s.name: s for s in stages if s.name}
        needed: set[int] = set()
        todo = [target]
        while todo:
            stage = todo.pop()
            if stage.index in needed:
                continue
            needed.add(stage.index)
            refs = [stage.from_node.args[0]] if stage.from_node.args else []
            for node in stage.nodes:
                for flag in node.flags:
                    if flag.startswith("--from="):
                        refs.append(flag.split("=", 1)[1])
            for ref in refs:
                dep = by_name.get(ref.lower())
                if dep is None and ref.isdigit() and int(ref) < len(stages):
                    dep = stages[int(ref)]
                if dep is not None and dep.index < stage.index:
                    todo.append(dep)
        return needed

    # output ----------------------------------------------------------------------------------
    def _step_header(self, node: Node) -> None:
        self.step_no += 1
        text = node.original.split("\n", 1)[0] if node.heredocs else node.original
        self.emit(f"Step {self.step_no}/{self.total} : {text.strip()}")

    def _where(self, node: Node) -> str:
        return f"{self.context.dockerfile_name or 'Dockerfile'}:{node.start_line}"

    # ARG before FROM -------------------------------------------------------------------------
    def _meta_arg(self, node: Node) -> None:
        for word in node.args:
            name, value = self._arg_word(word, self.args.meta_env())
            self.args.add_meta(name, value)

    def _arg_word(self, word: str, env: Mapping[str, str]) -> tuple[str, str | None]:
        if "=" in word:
            name, value = word.split("=", 1)
            return name, self.lex.process_word(value, env)
        return word, None

    # stages ----------------------------------------------------------------------------------
    def _build_stage(self, stage: _Stage, stages: list[_Stage]) -> _State:
        node = stage.from_node
        self._step_header(node)
        flags = self._check_flags(node)
        platform = self.lex.process_word(flags.get("platform") or self.options.platform or "", self.args.meta_env())
        if platform and platform.split("/")[:2] != ["linux", cfg.go_arch()]:
            raise BuildError(f"{self._where(node)}: lamina builds for linux/{cfg.go_arch()} only, not {platform}")
        name = self.lex.process_word(node.args[0], self.args.meta_env())
        if not name:
            raise BuildError(f"{self._where(node)}: base name ({node.args[0]}) should not be blank")
        self.args.reset_stage()
        image_id = self._base_image(name, stages, stage, node)
        stage.base_id = image_id
        state = _State(image_id, {}, stage=stage)
        if image_id is not None:
            doc = self.store.images.get(image_id).doc
            state.doc = doc
            state.run_config = copy.deepcopy(doc.get("config") or {})
            self.emit(f" ---> {image_id.hex[:12]}")
        env = state.run_config.get("Env") or []
        if not any(e.startswith("PATH=") for e in env):
            state.run_config["Env"] = [*env, f"PATH={DEFAULT_PATH}"]
        state.run_config["OpenStdin"] = False
        state.run_config["StdinOnce"] = False
        triggers = state.run_config.get("OnBuild") or []
        if triggers:
            # docker's initializeStage: the triggers run once, and the child has none (null);
            # a base without triggers keeps its OnBuild as it is
            state.run_config["OnBuild"] = None
            word = "trigger" if len(triggers) == 1 else "triggers"
            self.emit(f"# Executing {len(triggers)} build {word}")
            for text in triggers:
                trigger = parse(text, f"ONBUILD trigger of {name}").nodes[0]
                trigger.start_line, trigger.end_line = node.start_line, node.end_line
                if trigger.instruction in ("onbuild", "from", "maintainer"):
                    raise BuildError(f"{trigger.keyword} isn't allowed as an ONBUILD trigger")
                self._dispatch(state, trigger, stages)
        for child in stage.nodes:
            self._step_header(child)
            self._dispatch(state, child, stages)
        stage.image_id = state.image_id
        stage.done = True
        return state

    def _base_image(self, name: str, stages: list[_Stage], stage: _Stage, node: Node) -> Digest | None:
        for prior in stages[: stage.index]:
            if prior.name and prior.name == name.lower():
                if not prior.done:
                    raise BuildError(f"{self._where(node)}: stage {name} was not built")
                return prior.image_id
        if name == "scratch":
            return None
        return self._image(name, pull=self.options.pull)

    def _image(self, name: str, pull: bool = False) -> Digest:
        """A local image by name, pulled when missing (or always with --pull), the pull's
        messages in the build's output as docker's classic builder shows them (no bars)."""

        def progress(message) -> None:
            if not message.has_bar:
                self.emit(message.text)

        policy = "always" if pull else "missing"
        return self.images.resolve_or_pull(name, policy, platform=self.options.platform, progress=progress)

    # dispatch --------------------------------------------------------------------------------
    def _check_flags(self, node: Node) -> dict[str, str]:
        allowed = _ALLOWED_FLAGS.get(node.instruction, set())
        out: dict[str, str] = {}
        for flag in node.flags:
            body = flag[2:]
            key, sep, value = body.partition("=")
            if key not in allowed:
                raise DockerfileError(f"{self._where(node)}: unknown flag: --{key}")
            out[key] = value if sep else "true"
        return out

    def _env(self, state: _State) -> dict[str, str]:
        env = self.args.stage_env()
        for item in state.run_config.get("Env") or []:
            key, _, value = item.partition("=")
            env[key] = value
        return env

    def _dispatch(self, state: _State, node: Node, stages: list[_Stage]) -> None:
        flags = self._check_flags(node)
        handler = getattr(self, f"_do_{node.instruction}", None)
        if handler is None:
            raise DockerfileError(f"{self._where(node)}: {node.keyword} is not allowed here")
        try:
            handler(state, node, flags, stages)
        except DockerfileError:
            raise
        except (ValueError, InvalidArgument, NotFound) as exc:
            if isinstance(exc, LaminaError) and str(exc).startswith(self._where(node)):
                raise
            if isinstance(exc, LaminaError):
                raise type(exc)(f"{self._where(node)}: {node.keyword}: {exc}") from None
            raise BuildError(f"{self._where(node)}: {node.keyword}: {exc}") from None

    def _need_args(self, node: Node, count: int = 1, exact: bool = False) -> None:
        n = len(node.args)
        if (exact and n != count) or n < count:
            if count == 1 and exact:
                raise DockerfileError(f"{self._where(node)}: {node.keyword} requires exactly one argument")
            if count == 1:
                raise DockerfileError(f"{self._where(node)}: {node.keyword} requires at least one argument")
            raise DockerfileError(f"{self._where(node)}: {node.keyword} requires at least two arguments")

    # metadata instructions --------------------------------------------------------------------
    def _do_env(self, state, node, flags, stages) -> None:
        self._need_args(node)
        env = self._env(state)
        config_env = list(state.run_config.get("Env") or [])
        parts = []
        for i in range(0, len(node.args), 2):
            name = self.lex.process_word(node.args[i], env)
            value = self.lex.process_word(node.args[i + 1], env)
            if not name:
                raise DockerfileError(f"{self._where(node)}: ENV names can not be blank")
            pair = f"{name}={value}"
            parts.append(pair)
            for j, existing in enumerate(config_env):
                if existing.split("=", 1)[0] == name:
                    config_env[j] = pair
                    break
            else:
                config_env.append(pair)
            env[name] = value
        state.run_config["Env"] = config_env
        self._commit_meta(state, node, "ENV " + " ".join(parts))

    def _do_label(self, state, node, flags, stages) -> None:
        self._need_args(node)
        env = self._env(state)
        labels = dict(state.run_config.get("Labels") or {})
        parts = []
        for i in range(0, len(node.args), 2):
            key = self.lex.process_word(node.args[i], env)
            value = self.lex.process_word(node.args[i + 1], env)
            if not key:
                raise DockerfileError(f"{self._where(node)}: LABEL names can not be blank")
            labels[key] = value
            parts.append(f"{key}={value}")
        state.run_config["Labels"] = labels
        self._commit_meta(state, node, "LABEL " + " ".join(parts))

    def _do_maintainer(self, state, node, flags, stages) -> None:
        self._need_args(node, 1, exact=True)
        state.maintainer = node.args[0]
        self._commit_meta(state, node, "MAINTAINER " + node.args[0])

    def _do_user(self, state, node, flags, stages) -> None:
        self._need_args(node, 1, exact=True)
        user = self.lex.process_word(node.args[0], self._env(state))
        state.run_config["User"] = user
        self._commit_meta(state, node, "USER " + user)

    def _do_stopsignal(self, state, node, flags, stages) -> None:
        self._need_args(node, 1, exact=True)
        sig = self.lex.process_word(node.args[0], self._env(state))
        _check_signal(sig)
        state.run_config["StopSignal"] = sig
        self._commit_meta(state, node, "STOPSIGNAL " + sig)

    def _do_expose(self, state, node, flags, stages) -> None:
        self._need_args(node)
        env = self._env(state)
        # docker sorts the words as written, then expands each into words ($PORTS="80 443")
        ports = [word for raw in sorted(node.args) for word in self.lex.process_words(raw, env)]
        exposed = dict(state.run_config.get("ExposedPorts") or {})
        for spec in ports:
            for port in _parse_ports(spec):
                exposed[port] = {}
        state.run_config["ExposedPorts"] = exposed
        self._commit_meta(state, node, "EXPOSE " + " ".join(ports))

    def _do_volume(self, state, node, flags, stages) -> None:
        self._need_args(node)
        env = self._env(state)
        vols = [self.lex.process_word(v, env) for v in node.args]
        volumes = dict(state.run_config.get("Volumes") or {})
        for v in vols:
            if not v.strip():
                raise DockerfileError(f"{self._where(node)}: VOLUME specified can not be an empty string")
            volumes[v] = {}
        state.run_config["Volumes"] = volumes
        self._commit_meta(state, node, "VOLUME [" + " ".join(vols) + "]")

    def _shell_cmd(self, state: _State, node: Node) -> list[str]:
        if node.json:
            return list(node.args)
        if not node.args:
            return []
        return [*(state.run_config.get("Shell") or DEFAULT_SHELL), node.args[0]]

    def _do_cmd(self, state, node, flags, stages) -> None:
        cmd = self._shell_cmd(state, node)
        state.run_config["Cmd"] = cmd
        if node.args:
            state.cmd_set = True
        self._commit_meta(state, node, "CMD " + go_quote_list(cmd))

    def _do_entrypoint(self, state, node, flags, stages) -> None:
        entry = self._shell_cmd(state, node)
        state.run_config["Entrypoint"] = entry if entry else None
        if not state.cmd_set:
            state.run_config["Cmd"] = None
        self._commit_meta(state, node, "ENTRYPOINT " + go_quote_list(entry))

    def _do_shell(self, state, node, flags, stages) -> None:
        if not node.json or not node.args:
            raise DockerfileError(f"{self._where(node)}: SHELL requires the arguments to be in JSON form")
        state.run_config["Shell"] = list(node.args)
        self._commit_meta(state, node, "SHELL [" + " ".join(node.args) + "]")

    def _do_healthcheck(self, state, node, flags, stages) -> None:
        self._need_args(node)
        kind = node.args[0].upper()
        if kind == "NONE":
            if len(node.args) > 1 or flags:
                raise DockerfileError(f"{self._where(node)}: HEALTHCHECK NONE takes no arguments")
            health: dict[str, Any] = {"Test": ["NONE"]}
        elif kind == "CMD":
            rest = node.args[1:]
            if not rest:
                raise DockerfileError(f"{self._where(node)}: Missing command after HEALTHCHECK CMD")
            test = ["CMD", *rest] if node.json else ["CMD-SHELL", rest[0]]
            health = {"Test": test}
            for key, field_name in (("interval", "Interval"), ("timeout", "Timeout"), ("start-period", "StartPeriod"), ("start-interval", "StartInterval")):
                if key in flags and flags[key]:
                    ns = parse_go_duration_ns(flags[key])
                    if ns < 1_000_000:
                        raise DockerfileError(f"{self._where(node)}: Interval {key!r} cannot be less than 1ms")
                    health[field_name] = ns
            if flags.get("retries"):
                retries = int(flags["retries"])
                if retries < 1:
                    raise DockerfileError(f"{self._where(node)}: --retries must be at least 1 (not {retries})")
                health["Retries"] = retries
        else:
            raise DockerfileError(f'{self._where(node)}: Unknown type "{kind}" in HEALTHCHECK (try CMD)')
        state.run_config["Healthcheck"] = health
        shown = (
            "&{"
            + go_quote_list(health["Test"])
            + "".join(f' "{go_duration(health.get(k, 0))}"' for k in ("Interval", "Timeout", "StartPeriod"))
            + f" '\\x{health.get('Retries', 0):02x}'"
            + "}"
        )
        self._commit_meta(state, node, "HEALTHCHECK " + shown)

    def _do_onbuild(self, state, node, flags, stages) -> None:
        expression = re.sub(r"(?i)^\s*ONBUILD\s*", "", node.original.split("\n", 1)[0])
        state.run_config["OnBuild"] = [*(state.run_config.get("OnBuild") or []), expression]
        self._commit_meta(state, node, "ONBUILD " + expression)

    def _do_arg(self, state, node, flags, stages) -> None:
        parts = []
        env = self._env(state)
        for word in node.args:
            name, value = self._arg_word(word, env)
            self.args.add(name, value)
            parts.append(name if value is None else f"{name}={value}")
        self._commit_meta(state, node, "ARG " + " ".join(parts))

    def _do_workdir(self, state, node, flags, stages) -> None:
        self._need_args(node, 1, exact=True)
        path = self.lex.process_word(node.args[0], self._env(state))
        current = state.run_config.get("WorkingDir") or "/"
        workdir = posixpath.normpath(posixpath.join(current, path))
        if not workdir.startswith("/"):
            workdir = "/" + workdir
        state.run_config["WorkingDir"] = workdir
        container_config = self._nop_config(state, "WORKDIR " + workdir, single=True)
        if self._probe(state, node, container_config):
            return
        fs = self._fs(state.image_id)
        items: list[copier.Item] = []
        _, entry = fs.resolve(workdir.lstrip("/"))
        if entry is None:
            items = self._parent_dirs(fs, workdir.lstrip("/") + "/x", 0, 0)
        self._commit(state, node, container_config, items or None)

    # commits -----------------------------------------------------------------------------------
    def _nop_config(self, state: _State, comment: str, single: bool = False) -> dict[str, Any]:
        """The container_config docker writes for a step: the run config with Cmd replaced by
        the shell and the ``#(nop)`` comment (two words, or one for WORKDIR/COPY/ADD)."""
        shell = list(state.run_config.get("Shell") or DEFAULT_SHELL)
        out = copy.deepcopy(state.run_config)
        out["Cmd"] = [*shell, "#(nop) " + comment] if single else [*shell, "#(nop) ", comment]
        return out

    def _commit_meta(self, state: _State, node: Node, comment: str) -> None:
        container_config = self._nop_config(state, comment)
        if self._probe(state, node, container_config):
            return
        self._commit(state, node, container_config, None)

    def _created(self) -> str:
        from datetime import UTC, datetime

        epoch = self.options.source_date_epoch
        if epoch is not None:
            return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return cfg.now_rfc3339()

    def _final_config(self, state: _State) -> dict[str, Any]:
        out = copy.deepcopy(state.run_config)
        out["Image"] = str(state.image_id) if state.image_id else ""
        return out

    def _commit(
        self,
        state: _State,
        node: Node,
        container_config: dict[str, Any],
        items: list[copier.Item] | None,
        sums: dict[str, str] | None = None,
        upper: str | None = None,
        created_by: str | None = None,
        announce: bool = True,
    ) -> None:
        from ..image.commit import CommitSpec, MovedUpperDir, TarLayer, commit_image

        container_config = copy.deepcopy(container_config)
        container_config["Image"] = str(state.image_id) if state.image_id else ""
        spec = CommitSpec(
            config=self._final_config(state),
            container_config=container_config,
            author=state.maintainer,
            created_by=created_by or " ".join(container_config.get("Cmd") or []),
            created=self._created(),
        )
        clamp = self.options.source_date_epoch
        if upper is not None:
            # the step's container is removed next: its upper directory becomes the layer
            image_id = commit_image(self.images, state.image_id, MovedUpperDir(upper), spec)
        elif items:
            with copier.layer_stream(items, clamp) as stream:
                image_id = commit_image(self.images, state.image_id, TarLayer(stream), spec)
        else:
            image_id = commit_image(self.images, state.image_id, None, spec)
        self._record(image_id, node, sums)
        if self.children is not None:
            self.children.setdefault(str(state.image_id or ""), []).append(image_id)
        self.steps.append(StepRecord(self.step_no, node.original, image_id, False, getattr(self, "_last_miss", "")))
        state.image_id = image_id
        if announce:
            self.emit(f" ---> {image_id.hex[:12]}")

    def _record(self, image_id: Digest, node: Node, sums: dict[str, str] | None) -> None:
        """Write lamina-build (which Dockerfile line made this image) beside docker's metadata."""
        from ..store import atomic

        meta = self.store.paths.imagedb_metadata(image_id)
        os.makedirs(meta, exist_ok=True)
        doc = {
            "dockerfile": self.context.dockerfile_name or "Dockerfile",
            "line": node.start_line,
            "instruction": node.original,
        }
        atomic.write_text(os.path.join(meta, BUILD_META), json.dumps(doc, ensure_ascii=False), durable=False)
        if sums is not None:
            atomic.write_text(os.path.join(meta, COPY_SUMS_META), json.dumps(sums, sort_keys=True), durable=False)

    # the cache -----------------------------------------------------------------------------
    def _children_of(self, parent: Digest | None) -> list[Digest]:
        if self.children is None:
            index: dict[str, list[Digest]] = {}
            for image_id, p in self._parents():
                index.setdefault(p or "", []).append(image_id)
            self.children = index
        return list(self.children.get(str(parent or ""), []))

    def _parents(self) -> list[tuple[Digest, str | None]]:
        """Every image with its parent: from the image catalog when it is current (one read,
        whatever the store holds), else from each image's ``parent`` file."""
        from ..store import catalog as catalogs

        try:
            current = catalogs.read(self.store.root, self.store.paths.image_dir, lazy=True)
            if current is not None:
                return [(Digest.parse(r.id), r.parent or None) for r in current.images]
        except Exception:  # noqa: BLE001 - a lazy catalog raises where it is damaged: read the store
            pass
        out = []
        for image_id in self.store.images.ids():
            p = self.store.images.get_parent(image_id)
            out.append((image_id, str(p) if p else None))
        return out

    def _built_here(self, image_id: Digest) -> dict[str, Any] | None:
        path = os.path.join(self.store.paths.imagedb_metadata(image_id), BUILD_META)
        try:
            with open(path, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def _probe(self, state: _State, node: Node, container_config: dict[str, Any], sums: dict[str, str] | None = None) -> bool:
        """A cache hit: a child of the current image built from the same container_config."""
        self._last_miss = ""
        if self.options.no_cache:
            self._last_miss = "--no-cache"
            self._explain(self._last_miss)
            return False
        wanted = copy.deepcopy(container_config)
        wanted["Image"] = str(state.image_id) if state.image_id else ""
        wanted = cfg.full_container_config(wanted)
        best: tuple[str, Digest] | None = None
        same_instruction: list[Digest] = []
        children = self._children_of(state.image_id)
        for child in children:
            built = self._built_here(child)
            if built is None:
                continue
            try:
                doc = self.store.images.get(child).doc
            except LaminaError:
                continue
            if doc.get("container_config") == wanted:
                created = doc.get("created", "")
                if best is None or created > best[0]:
                    best = (created, child)
            elif built.get("instruction") == node.original:
                same_instruction.append(child)
        if best is not None:
            image_id = best[1]
            self.emit(" ---> Using cache")
            self.emit(f" ---> {image_id.hex[:12]}")
            state.image_id = image_id
            self.steps.append(StepRecord(self.step_no, node.original, image_id, True))
            return True
        self._last_miss = self._why_missed(state, children, same_instruction, wanted, sums)
        self._explain(self._last_miss)
        return False

    def _explain(self, reason: str) -> None:
        if self.options.explain_cache and reason:
            self.emit(f" ---> Cache miss: {reason}")

    def _why_missed(
        self,
        state: _State,
        children: list[Digest],
        same: list[Digest],
        wanted: dict[str, Any],
        sums: dict[str, str] | None,
    ) -> str:
        parent = state.image_id.hex[:12] if state.image_id else "scratch"
        built = [c for c in children if self._built_here(c) is not None]
        if not built:
            return f"no image was built on {parent} before"
        if not same:
            return f"no child of {parent} was built by this instruction"
        candidate = same[-1]
        doc = self.store.images.get(candidate).doc
        old = doc.get("container_config") or {}
        if sums is not None:
            try:
                with open(os.path.join(self.store.paths.imagedb_metadata(candidate), COPY_SUMS_META), encoding="utf-8") as f:
                    old_sums = json.load(f)
            except (OSError, ValueError):
                old_sums = None
            if old_sums is not None and old_sums != sums:
                changed = sorted(p for p in sums if p in old_sums and old_sums[p] != sums[p])
                added = sorted(p for p in sums if p not in old_sums)
                removed = sorted(p for p in old_sums if p not in sums)
                parts = []
                for label, paths in (("changed", changed), ("new", added), ("gone", removed)):
                    if paths:
                        shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
                        parts.append(f"{label}: {shown}")
                return f"copied files differ from cached {candidate.hex[:12]} ({'; '.join(parts)})"
        fields = sorted(k for k in set(old) | set(wanted) if old.get(k) != wanted.get(k))
        if fields == ["Cmd"]:
            return f"the command differs from cached {candidate.hex[:12]} (build args or content)"
        return f"{', '.join(fields)} differ from cached {candidate.hex[:12]}"

    # filesystems ---------------------------------------------------------------------------------
    def _fs(self, image_id: Digest | None) -> ImageFS:
        if image_id is None:
            return ImageFS([])
        config = self.store.images.get(image_id)
        layers = self.store.layer_chain(list(config.diff_ids))
        driver = self.store.driver
        dirs = [driver.diff_dir(layer.cache_id) for layer in reversed(layers)]
        return ImageFS(dirs, overlay=driver.whiteouts == "overlay")

    def _parent_dirs(self, fs: ImageFS, dest: str, uid: int, gid: int) -> list[copier.Item]:
        """Entries for the directories above ``dest`` (resolved path, no leading '/'): as the
        image has them, or new ones (0755, owned like the copied files)."""
        items = []
        parts = dest.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            path = "/".join(parts[:i])
            _, entry = fs.resolve(path, follow_last=False)
            if entry is not None:
                st = entry.st
                if not stat.S_ISDIR(st.st_mode):
                    raise InvalidArgument(f"cannot copy to /{path}: not a directory")
                items.append(copier.Item(path, "dir", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, int(st.st_mtime), copied=False))
            else:
                items.append(copier.Item(path, "dir", 0o755, uid, gid, self._now(), copied=False))
        return items

    def _now(self) -> int:
        epoch = self.options.source_date_epoch
        return min(self.started, epoch) if epoch is not None else self.started

    # COPY and ADD ------------------------------------------------------------------------------
    def _do_copy(self, state, node, flags, stages) -> None:
        self._copy(state, node, flags, stages, "COPY")

    def _do_add(self, state, node, flags, stages) -> None:
        self._copy(state, node, flags, stages, "ADD")

    def _copy(self, state: _State, node: Node, flags: dict[str, str], stages: list[_Stage], kind: str) -> None:
        if len(node.args) < 2:
            raise DockerfileError(f"{self._where(node)}: {kind} requires at least two arguments, but only one was provided. Destination could not be determined")
        env = self._env(state)
        heredoc_names = {h.name: h for h in node.heredocs}
        sources_raw = node.args[:-1]
        dest_raw = self.lex.process_word(node.args[-1], env)
        fs = self._fs(state.image_id)
        chown = self.lex.process_word(flags["chown"], env) if flags.get("chown") else ""
        uid = gid = 0
        if chown:
            user, _, group = chown.partition(":")
            uid, gid = lookup_user(fs, user, group or None)
        chmod = None
        if flags.get("chmod"):
            text = self.lex.process_word(flags["chmod"], env)
            if not re.fullmatch(r"[0-7]{1,4}", text):
                raise DockerfileError(f"{self._where(node)}: invalid chmod parameter {text!r}: only octal modes are supported")
            chmod = int(text, 8)
        workdir = state.run_config.get("WorkingDir") or "/"
        dest = normalize_dest(dest_raw, workdir)
        source_fs = None
        if kind == "COPY" and flags.get("from"):
            source_fs = self._source_fs(flags["from"], stages, env)
        plan = copier.CopyPlan()
        sources: list[tuple[str, Any]] = []
        for raw in sources_raw:
            from .parser import heredoc_name

            name = heredoc_name(raw) if node.heredocs else None
            if name is not None and name in heredoc_names:
                doc = heredoc_names[name]
                data = _expand_heredoc(self.lex, doc.content, env) if doc.expand else doc.content
                sources.append(("heredoc", (name, data.encode())))
                continue
            src = self.lex.process_word(raw, env)
            if kind == "ADD" and re.match(r"^https?://", src):
                sources.append(("url", src))
            elif source_fs is not None:
                sources.extend(("image", p) for p in _image_glob(source_fs, src))
            else:
                sources.extend(("context", p) for p in self.context.find(src))
        multiple = len(sources) > 1 or any(re.search(r"[*?\[]", s) for s in sources_raw)
        if multiple and not dest.endswith("/"):
            raise DockerfileError(
                f"{self._where(node)}: When using {kind} with more than one source file, the destination must be a directory and end with a /"
            )
        dest_rel, dest_entry = fs.resolve(dest.lstrip("/").rstrip("/"))
        dest_is_dir = dest.endswith("/") or (dest_entry is not None and stat.S_ISDIR(dest_entry.st.st_mode))
        hash_kind: list[str] = []
        for what, value in sources:
            if what == "heredoc":
                name, data = value
                target = posixpath.join(dest_rel, name) if dest_is_dir else dest_rel
                item = copier.Item(target, "file", chmod if chmod is not None else 0o644, uid, gid, self._now(), data=data, sum_name=name)
                plan.add_source("file", [item])
            elif what == "url":
                plan.add_source("file", [self._download(value, dest_rel, dest_is_dir, uid, gid, chmod)])
            elif what == "image":
                assert source_fs is not None
                plan.add_source(*self._plan_from_image(source_fs, value, dest_rel, dest_is_dir, uid, gid, chmod))
            else:
                plan.add_source(*self._plan_from_context(value, dest_rel, dest_is_dir, uid, gid, chmod, kind == "ADD"))
            hash_kind.append(what)
        if not plan.items and not any(items for _, items in plan.sources):
            pass
        source_hash, sums = plan.checksum(self.sums if source_fs is None else None)
        # docker 20.10's exact words, its missing space after --chown included (the cache key
        # and ``history`` then read the same as the classic builder's)
        flag_words = (f"--chmod={flags['chmod']} " if flags.get("chmod") else "") + (
            f"--chown={flags['chown']}" if flags.get("chown") else ""
        )
        comment = f"{kind} {flag_words}{source_hash} in {dest_raw} "
        container_config = self._nop_config(state, comment, single=True)
        if self._probe(state, node, container_config, sums):
            return
        parents: dict[str, copier.Item] = {}
        if any(kind in ("dir", "archive") for kind, _ in plan.sources) and dest_rel:
            for parent in self._parent_dirs(fs, dest_rel + "/.", uid, gid):
                parents.setdefault(parent.path, parent)
        for item in plan.items:
            for parent in self._parent_dirs(fs, item.path, uid, gid):
                parents.setdefault(parent.path, parent)
        all_items = {p.path: p for p in parents.values()}
        for item in plan.items:
            all_items[item.path] = item
        ordered = [all_items[k] for k in sorted(all_items, key=lambda p: p.encode("utf-8", "surrogateescape"))]
        self._commit(state, node, container_config, ordered or [], sums)

    def _source_fs(self, ref: str, stages: list[_Stage], env: Mapping[str, str]) -> ImageFS:
        ref = self.lex.process_word(ref, env)
        for stage in stages:
            if (stage.name and stage.name == ref.lower()) or (ref.isdigit() and int(ref) == stage.index):
                if not stage.done:
                    raise BuildError(f"stage {ref} is not built before it is used")
                return self._fs(stage.image_id)
        return self._fs(self._image(ref))

    def _plan_from_context(
        self, rel: str, dest: str, dest_is_dir: bool, uid: int, gid: int, chmod: int | None, add: bool
    ) -> tuple[str, list[copier.Item]]:
        path = self.context.path(rel)
        self.context.resolve(rel, rel)  # a symlink (matched by a wildcard too) must stay inside
        st = os.stat(path)  # the top source: symlinks followed (inside the context, checked)
        name = posixpath.basename(rel) if rel else ""
        if stat.S_ISDIR(st.st_mode):
            items: list[copier.Item] = []
            for sub, sst in self.context.walk(rel):
                inner = sub[len(rel) + 1 :] if rel else sub
                item = _item_from_stat(self.context.path(sub), sst, posixpath.join(dest, inner), uid, gid, chmod, inner)
                if item is not None:
                    items.append(item)
            return "dir", items
        if add and _is_archive(path):
            return "archive", self._plan_archive(path, dest, st)
        target = posixpath.join(dest, name) if dest_is_dir else dest
        item = _item_from_stat(path, st, target, uid, gid, chmod, name)
        return "file", [item] if item is not None else []

    def _plan_archive(self, path: str, dest: str, st: os.stat_result) -> list[copier.Item]:
        """ADD of a local tar (plain, gzip, bzip2, xz): its entries under ``dest``, owners and
        modes as archived; names that would leave ``dest`` are refused."""
        import tarfile

        from ..archive.safepath import clean_member_name

        items: list[copier.Item] = []
        try:
            with tarfile.open(path, "r:*") as tar:
                for member in tar:
                    rel = clean_member_name(member.name)
                    if not rel:
                        continue
                    target = posixpath.join(dest, rel) if dest else rel
                    common = dict(mode=member.mode & 0o7777, uid=member.uid, gid=member.gid, mtime=int(member.mtime), sum_name=rel)
                    if member.isdir():
                        items.append(copier.Item(target, "dir", **common))
                    elif member.isreg():
                        fobj = tar.extractfile(member)
                        data = fobj.read() if fobj is not None else b""
                        items.append(copier.Item(target, "file", data=data, **common))
                    elif member.issym():
                        items.append(copier.Item(target, "symlink", linkname=member.linkname, **common))
                    elif member.islnk():
                        link = clean_member_name(member.linkname)
                        items.append(copier.Item(target, "hardlink", linkname=posixpath.join(dest, link) if dest else link, **common))
                    elif member.isfifo():
                        items.append(copier.Item(target, "fifo", **common))
        except tarfile.TarError as exc:
            raise InvalidArgument(f"cannot extract {os.path.basename(path)}: {exc}") from None
        return items

    def _plan_from_image(
        self, fs: ImageFS, rel: str, dest: str, dest_is_dir: bool, uid: int, gid: int, chmod: int | None
    ) -> tuple[str, list[copier.Item]]:
        resolved, entry = fs.resolve(rel)
        if entry is None:
            raise NotFound(f"file not found: stat /{rel}: no such file or directory")
        if stat.S_ISDIR(entry.st.st_mode):
            items: list[copier.Item] = []

            def walk(sub: str, inner: str) -> None:
                for name in listdir(fs, sub):
                    child = f"{sub}/{name}" if sub else name
                    child_inner = f"{inner}/{name}" if inner else name
                    _, e = fs.resolve(child, follow_last=False)
                    if e is None:
                        continue
                    item = _item_from_stat(e.real, e.st, posixpath.join(dest, child_inner), uid, gid, chmod, child_inner)
                    if item is not None:
                        items.append(item)
                    if stat.S_ISDIR(e.st.st_mode):
                        walk(child, child_inner)

            walk(resolved, "")
            return "dir", items
        name = posixpath.basename(resolved)
        target = posixpath.join(dest, name) if dest_is_dir else dest
        item = _item_from_stat(entry.real, entry.st, target, uid, gid, chmod, name)
        return "file", [item] if item is not None else []

    def _download(self, url: str, dest: str, dest_is_dir: bool, uid: int, gid: int, chmod: int | None) -> copier.Item:
        """ADD <url>: the body as a 0600 file (docker's mode), named after the URL's last path
        segment when the destination is a directory; not extracted."""
        import email.utils
        import urllib.parse
        import urllib.request

        try:
            with urllib.request.urlopen(url, timeout=60) as resp:  # noqa: S310 - http(s) only, checked by the caller
                data = resp.read()
                modified = resp.headers.get("Last-Modified")
        except OSError as exc:
            raise BuildError(f"failed to download {url}: {exc}") from None
        mtime = self._now()
        if modified:
            try:
                mtime = int(email.utils.parsedate_to_datetime(modified).timestamp())
            except (TypeError, ValueError):
                pass
        name = posixpath.basename(urllib.parse.urlparse(url).path) or "index.html"
        target = posixpath.join(dest, name) if dest_is_dir else dest
        return copier.Item(target, "file", chmod if chmod is not None else 0o600, uid, gid, mtime, data=data, sum_name=name)

    # RUN -----------------------------------------------------------------------------------------
    def _do_run(self, state, node, flags, stages) -> None:
        if state.image_id is None:
            raise BuildError(f"{self._where(node)}: Please provide a source image with `from` prior to run")
        args = list(node.args) if node.json else ([node.args[0]] if node.args else [])
        if not args:
            raise DockerfileError(f"{self._where(node)}: RUN requires at least one argument")
        script = None
        if node.heredocs and not node.json:
            from .parser import is_heredoc_word

            first = args[0].strip()
            if is_heredoc_word(first):
                args = [node.heredocs[0].content]
                if args[0].startswith("#!"):
                    # BuildKit's rule: a script with a shebang runs as a file, by its interpreter
                    script = (node.heredocs[0].name, args[0])
            else:
                args = [args[0] + "".join("\n" + h.content + h.name for h in node.heredocs)]
        shell = list(state.run_config.get("Shell") or DEFAULT_SHELL)
        cmd = args if node.json else [*shell, *args]
        config_env = list(state.run_config.get("Env") or [])
        cache_env = self.args.cache_env(config_env)
        save_cmd = [f"|{len(cache_env)}", *cache_env, *cmd] if cache_env else cmd
        container_config = copy.deepcopy(state.run_config)
        container_config["Cmd"] = save_cmd
        if self._probe(state, node, container_config):
            return
        network = flags.get("network") or self.options.network
        run_env = config_env + self.args.run_env(config_env)
        self._run_container(state, node, cmd, run_env, network, container_config, script)

    def _run_container(self, state, node, cmd, env, network, container_config, script=None) -> None:
        from .run import run_step

        result = run_step(
            self.engine,
            image_id=state.image_id,
            config=state.run_config,
            cmd=cmd,
            script=script,
            env=env,
            network=network,
            emit=self.emit,
            output=self.output,
            remove=self.options.remove,
            force_remove=self.options.force_remove,
        )
        with result:
            if result.exit_code != 0:
                raise StepFailed(" ".join(cmd), result.exit_code)
            if self.options.source_date_epoch is not None:
                _clamp_times(result.upper_dir, self.options.source_date_epoch)
            self._commit(state, node, container_config, None, upper=result.upper_dir, announce=False)
        # docker prints the new image after removing the container
        self.emit(f" ---> {state.image_id.hex[:12]}")

    # --squash ------------------------------------------------------------------------------------
    def _squash(self, target: _Stage, image_id: Digest) -> Digest:
        from .squash import squash

        return squash(self, target, image_id)


# helpers ---------------------------------------------------------------------------------------


def _clamp_times(root: str, epoch: int) -> None:
    """SOURCE_DATE_EPOCH for a RUN layer: no time in the container's upper directory is later
    than it (the container is gone once committed, so its upper dir is ours to change)."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if st.st_mtime > epoch:
                os.utime(path, (epoch, epoch), follow_symlinks=False)
    if os.lstat(root).st_mtime > epoch:
        os.utime(root, (epoch, epoch))


def _item_from_stat(
    path: str, st: os.stat_result, target: str, uid: int, gid: int, chmod: int | None, sum_name: str
) -> copier.Item | None:
    kind = copier.kind_of(st)
    if kind is None:
        return None  # sockets are not copied
    mode = stat.S_IMODE(st.st_mode)
    if chmod is not None and kind != "symlink":
        mode = chmod
    item = copier.Item(target, kind, mode, uid, gid, int(st.st_mtime), sum_name=sum_name)
    if kind == "file":
        item.source = path
        item.size = st.st_size
    elif kind == "symlink":
        item.linkname = os.readlink(path)
    elif kind in ("char", "block"):
        item.rdev = st.st_rdev
    return item


def _is_archive(path: str) -> bool:
    from ..archive.compression import detect

    with open(path, "rb") as f:
        head = f.read(512)
    if detect(head) != "none":
        return detect(head) in ("gzip", "bzip2", "xz")
    return len(head) >= 262 and head[257:262] == b"ustar"


def _image_glob(fs: ImageFS, src: str) -> list[str]:
    rel = posixpath.normpath("/" + src).lstrip("/")
    if not re.search(r"[*?\[]", rel):
        return [rel]
    import fnmatch

    parts = rel.split("/")
    current = [""]
    for part in parts:
        nxt = []
        for base in current:
            resolved, entry = fs.resolve(base) if base else ("", None)
            names = listdir(fs, resolved if base else "")
            for name in names:
                if fnmatch.fnmatchcase(name, part):
                    nxt.append(f"{base}/{name}" if base else name)
        current = nxt
    if not current:
        raise NotFound(f"no source files were specified (pattern {src!r} matched nothing)")
    return sorted(current)


def _expand_heredoc(lex: ShellLex, content: str, env: Mapping[str, str]) -> str:
    """Variables in an unquoted COPY heredoc are expanded; quotes and the rest stay as written
    (BuildKit expands the content line by line without removing quotes)."""

    def repl(match: re.Match[str]) -> str:
        return lex.process_word(match.group(0), env)

    return re.sub(r"\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*", repl, content)


_SIGNALS = {
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
    "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
    "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS", "POLL", "IOT",
}


def _check_signal(sig: str) -> None:
    if sig.isdigit():
        if not 0 < int(sig) < 65:
            raise InvalidArgument(f"invalid signal: {sig}")
        return
    name = sig.upper().removeprefix("SIG")
    if name in _SIGNALS or re.fullmatch(r"RTMIN(\+\d+)?|RTMAX(-\d+)?", name):
        return
    raise InvalidArgument(f"invalid signal: {sig}")


def _parse_ports(spec: str) -> list[str]:
    """nat.ParsePortSpecs for EXPOSE: ``80``, ``80/udp``, ``8000-8002/tcp``."""
    port, _, proto = spec.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in ("tcp", "udp", "sctp"):
        raise InvalidArgument(f"invalid proto: {proto}")
    if ":" in port:
        raise InvalidArgument(f"invalid containerPort: {spec}")
    low, _, high = port.partition("-")
    if not low.isdigit() or (high and not high.isdigit()):
        raise InvalidArgument(f"invalid containerPort: {port}")
    start, end = int(low), int(high or low)
    if end < start or end > 65535:
        raise InvalidArgument(f"invalid range specified for containerPort: {port}")
    return [f"{p}/{proto}" for p in range(start, end + 1)]
