"""Every import in src/crscan points down the layers of docs/architecture.md ("Dependency direction"), no two
packages import each other, and only api/ (and the entry points) speak the wire.

The walker reads the source with `ast`, so imports inside functions and under TYPE_CHECKING count too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import crscan

SRC = Path(crscan.__file__).resolve().parent.parent

# Bottom → top. A package may import its own layer's packages and any layer below; never one above. "crscan" is
# the package root (`crscan.__version__`).
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"crscan", "model", "ids", "versions", "config", "secrets"}),
    frozenset({"registry"}),
    frozenset({"metrics"}),  # counts the bytes the registry client pulls
    frozenset({"layers"}),
    frozenset({"catalog"}),
    frozenset({"vulndb"}),
    frozenset({"match"}),
    frozenset({"scan"}),
    frozenset({"report"}),
    frozenset({"store"}),
    frozenset({"jobs", "policies", "sync", "auth"}),
    frozenset({"api"}),
    frozenset({"console"}),  # the web console: a client of api's servicers, mounted by cli's serve
    frozenset({"cli"}),  # the top: nothing imports cli
)

# Packages below api/ that must not touch gRPC or the protos: conversion to messages happens in api/.
NO_WIRE = frozenset({"store", "jobs", "policies", "sync", "auth"})
WIRE_MODULES = ("grpc", "yandex", "google.protobuf", "google.rpc", "google.api")
# Files still allowed to import the wire; any other file, or any new import here that is not, fails.
WIRE_ALLOWED = frozenset({
    # scan rules are stored and validated as the ScanRules proto; a domain type for them is still to do
    "crscan/policies/rules.py",
})


@dataclass(frozen=True)
class Import:
    source: str  # the importing file, relative to the source root: "crscan/api/rest.py"
    line: int
    target: str  # the imported module: "crscan.api.routes", "grpc"

    def __str__(self) -> str:
        return f"{self.source}:{self.line} imports {self.target}"


def imports_in(root: Path, top: str = "crscan") -> list[Import]:
    """Every module imported by every file under root/top, from anywhere in the file (functions included)."""
    found = []
    for path in sorted((root / top).rglob("*.py")):
        relative = path.relative_to(root)
        package = list(relative.parent.parts)  # what `from . import x` is relative to, in a module or __init__
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = ".".join([*package[: len(package) - node.level + 1], *filter(None, [node.module])])
                else:
                    base = node.module
                # `from crscan import ids` imports the module crscan.ids; `from crscan.x import name` imports crscan.x
                targets = [_submodule(root, base, alias.name) for alias in node.names]
            else:
                continue
            found.extend(Import(relative.as_posix(), node.lineno, target) for target in targets)
    return list(dict.fromkeys(found))  # `from x import a, b` names module x once


def _submodule(root: Path, base: str, name: str) -> str:
    candidate = root.joinpath(*base.split("."), name)
    if candidate.with_suffix(".py").is_file() or (candidate / "__init__.py").is_file():
        return f"{base}.{name}"
    return base


def package_of(module: str, top: str = "crscan") -> str | None:
    """"crscan.api.rest" → "api", "crscan.ids" → "ids", "crscan" → "crscan"; None outside crscan."""
    parts = module.split(".")
    if parts[0] != top:
        return None
    return parts[1] if len(parts) > 1 else top


def _source_package(imp: Import) -> str:
    parts = imp.source.removesuffix(".py").split("/")
    return parts[1] if len(parts) > 1 and parts[1] != "__init__" else parts[0]


def layer_of(package: str, layers: Sequence[frozenset[str]]) -> int:
    for index, members in enumerate(layers):
        if package in members:
            return index
    raise KeyError(package)


def unplaced_packages(root: Path, layers: Sequence[frozenset[str]], top: str = "crscan") -> set[str]:
    """The subpackages and top-level modules of root/top that no layer names."""
    present = {top} | {p.stem for p in (root / top).glob("*.py") if p.stem != "__init__"}
    present |= {p.name for p in (root / top).iterdir() if (p / "__init__.py").is_file()}
    return present - set().union(*layers)


def upward_imports(imports: Iterable[Import], layers: Sequence[frozenset[str]]) -> list[Import]:
    upward = []
    for imp in imports:
        target = package_of(imp.target)
        if target is not None and layer_of(target, layers) > layer_of(_source_package(imp), layers):
            upward.append(imp)
    return upward


def wire_imports(imports: Iterable[Import], no_wire: frozenset[str], allowed: frozenset[str]) -> list[Import]:
    return [
        imp for imp in imports
        if _source_package(imp) in no_wire and imp.source not in allowed
        and any(imp.target == w or imp.target.startswith(w + ".") for w in WIRE_MODULES)
    ]


def package_cycles(imports: Iterable[Import]) -> list[list[str]]:
    """Groups of packages that reach each other through imports (strongly connected, more than one package)."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        source, target = _source_package(imp), package_of(imp.target)
        graph.setdefault(source, set())
        if target is not None and target != source:
            graph[source].add(target)
            graph.setdefault(target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:  # Tarjan; the package graph is a few dozen nodes, recursion is fine
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


IMPORTS = imports_in(SRC)


def test_the_walker_sees_the_source_including_imports_inside_functions():
    assert len(IMPORTS) > 500
    # cli/serve.py imports the server stack inside its command function
    assert any(i.source == "crscan/cli/serve.py" and i.target == "crscan.api.server" for i in IMPORTS)


def test_every_package_has_a_layer():
    assert unplaced_packages(SRC, LAYERS) == set(), "add the package to LAYERS (and docs/architecture.md)"


def test_no_import_points_up_the_layers():
    assert [str(i) for i in upward_imports(IMPORTS, LAYERS)] == []


def test_no_two_packages_import_each_other():
    assert package_cycles(IMPORTS) == []


def test_only_api_and_the_entry_points_speak_the_wire():
    assert [str(i) for i in wire_imports(IMPORTS, NO_WIRE, WIRE_ALLOWED)] == []


def test_every_wire_exception_is_still_needed():
    """An allowed file that no longer imports the wire leaves the list, so the exception cannot outlive its use."""
    needed = {i.source for i in wire_imports(IMPORTS, NO_WIRE, frozenset())}
    assert WIRE_ALLOWED - needed == set(), "remove these files from WIRE_ALLOWED"


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_checks_catch_upward_circular_and_wire_imports(tmp_path):
    root = _tree(tmp_path, {
        "crscan/__init__.py": "",
        "crscan/model.py": "",
        "crscan/store/__init__.py": "from crscan import model\n",
        # upward, hidden in a function and written relative: scan (below) → store (above)
        "crscan/scan/__init__.py": "",
        "crscan/scan/pipeline.py": "def run():\n    from ..store import Store\n",
        # a cycle inside one layer
        "crscan/jobs/__init__.py": "import crscan.sync\n",
        "crscan/sync/__init__.py": "from crscan.jobs import runner\n",
        "crscan/jobs/runner.py": "",
        # the wire below api/
        "crscan/policies/__init__.py": "import grpc\nfrom google.protobuf import json_format\n",
        "crscan/api/__init__.py": "import grpc\nfrom crscan import store\n",
    })
    imports = imports_in(root)
    assert [str(i) for i in upward_imports(imports, LAYERS)] == ["crscan/scan/pipeline.py:2 imports crscan.store"]
    assert package_cycles(imports) == [["jobs", "sync"]]
    assert [str(i) for i in wire_imports(imports, NO_WIRE, frozenset())] == [
        "crscan/policies/__init__.py:1 imports grpc",
        "crscan/policies/__init__.py:2 imports google.protobuf",
    ]
    assert wire_imports(imports, NO_WIRE, frozenset({"crscan/policies/__init__.py"})) == []
    assert unplaced_packages(root, LAYERS) == set()
    _tree(root, {"crscan/newthing.py": ""})
    assert unplaced_packages(root, LAYERS) == {"newthing"}
