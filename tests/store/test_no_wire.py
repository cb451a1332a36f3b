"""The store speaks no wire format: no module of crscan.store imports gRPC or generated proto messages."""

import ast
from pathlib import Path

import crscan.store

WIRE_PACKAGES = ("grpc", "google", "yandex")


def test_store_imports_no_grpc_or_proto():
    offenders = []
    for path in sorted(Path(crscan.store.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {name}" for name in names if name.split(".")[0] in WIRE_PACKAGES]
    assert offenders == []
