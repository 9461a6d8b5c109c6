"""ARG: build arguments and their scope (docker's builder/dockerfile/buildargs.go).

* ``--build-arg k=v`` sets the value of a declared ``ARG k``; ``--build-arg k`` takes ``k``
  from lamina's own environment (the client does that) and is dropped when unset.
* An ARG before the first FROM is a *meta* arg: usable in FROM lines only, until a stage
  declares ``ARG k`` again without a value, which takes the meta value.
* A stage's ARGs end with the stage (a new FROM starts empty).
* ENV of the same name wins over ARG in expansion and in RUN's environment.
* The predefined proxy args (HTTP_PROXY, …) need no ARG: given with ``--build-arg`` they are in
  RUN's environment, but left out of the cache key and history unless declared.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["BuildArgs", "BUILTIN_ARGS"]

BUILTIN_ARGS = frozenset(
    "HTTP_PROXY http_proxy HTTPS_PROXY https_proxy FTP_PROXY ftp_proxy NO_PROXY no_proxy "
    "ALL_PROXY all_proxy".split()
)


class BuildArgs:
    def __init__(self, provided: Mapping[str, str | None]) -> None:
        self.provided = {k: v for k, v in provided.items() if v is not None}
        self.meta: dict[str, str | None] = {}
        self.declared: dict[str, str | None] = {}
        self.referenced: set[str] = set()

    # meta args (before the first FROM)
    def add_meta(self, name: str, default: str | None) -> None:
        self.referenced.add(name)
        self.meta[name] = self.provided.get(name, default)

    def meta_env(self) -> dict[str, str]:
        return {k: v for k, v in self.meta.items() if v is not None}

    # stage args
    def reset_stage(self) -> None:
        self.declared = {}

    def add(self, name: str, default: str | None) -> None:
        self.referenced.add(name)
        if name in self.provided:
            value: str | None = self.provided[name]
        elif default is not None:
            value = default
        else:
            value = self.meta.get(name)
        self.declared[name] = value

    def stage_env(self) -> dict[str, str]:
        """Args with values in this stage, plus the proxy args given (for expansion and RUN)."""
        env = {k: v for k, v in self.provided.items() if k in BUILTIN_ARGS}
        env.update({k: v for k, v in self.declared.items() if v is not None})
        return env

    def run_env(self, config_env: list[str]) -> list[str]:
        """``k=v`` for RUN's environment: args not shadowed by the image's ENV, sorted."""
        shadowed = {e.split("=", 1)[0] for e in config_env or []}
        return sorted(f"{k}={v}" for k, v in self.stage_env().items() if k not in shadowed)

    def cache_env(self, config_env: list[str]) -> list[str]:
        """The part of run_env that goes into the cache key and history (``|N k=v``): the
        proxy args only when the Dockerfile declared them."""
        return [e for e in self.run_env(config_env) if e.split("=", 1)[0] not in BUILTIN_ARGS or e.split("=", 1)[0] in self.declared]

    def unconsumed(self) -> list[str]:
        return sorted(k for k in self.provided if k not in self.referenced and k not in BUILTIN_ARGS)
