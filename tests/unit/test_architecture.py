"""The shape DESIGN.md promises: a declared public API and imports that point one way."""

from __future__ import annotations

import ast
import pathlib

import lamina

SRC = pathlib.Path(lamina.__file__).parent


def test_public_api_is_declared_and_importable():
    for name in lamina.__all__:
        assert getattr(lamina, name) is not None, name


def _imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(SRC.parent).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                found.add(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                found.add(node.module)
    return {m for m in found if m.startswith("lamina")}


def _modules_under(sub: str):
    root = SRC / sub
    return list(root.rglob("*.py")) if root.exists() else []


def test_registry_server_does_not_import_the_engine():
    allowed = ("lamina.oci", "lamina.digest", "lamina.reference", "lamina.errors", "lamina.archive", "lamina.registry", "lamina.format")
    for path in _modules_under("registry/server"):
        for module in _imports(path):
            assert module == "lamina" or module.startswith(allowed), f"{path}: imports {module}"


def test_core_does_not_import_upward():
    pure = ["oci", "digest.py", "reference.py", "errors.py", "format"]
    upward = ("lamina.store", "lamina.image", "lamina.engine", "lamina.cli", "lamina.graphdriver", "lamina.registry")
    for sub in pure:
        paths = [SRC / sub] if sub.endswith(".py") else _modules_under(sub)
        for path in paths:
            for module in _imports(path):
                assert not module.startswith(upward), f"{path}: imports {module}"
    for path in _modules_under("store") + _modules_under("graphdriver") + _modules_under("archive"):
        for module in _imports(path):
            assert not module.startswith(("lamina.engine", "lamina.cli", "lamina.image")), f"{path}: imports {module}"
