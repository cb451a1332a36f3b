"""npm: a real `npm install` tree (node_modules + lockfile v3) and the v1/v2 lockfiles npm wrote for it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crscan.catalog.node.cataloger import NodeCataloger
from crscan.catalog.node.parse_package_json import parse_package_lock
from crscan.model import Ecosystem
from tests.catalog.helpers import file, image_files

TESTDATA = Path(__file__).parent / "testdata"
# What `npm install lodash@4.17.4 @types/node@20.11.0 debug@2.6.8 ms@2.1.3` put in node_modules:
# debug@2.6.8 needs ms@2.0.0, so that one is nested under debug.
INSTALLED = {("@types/node", "20.11.0"), ("debug", "2.6.8"), ("lodash", "4.17.4"), ("ms", "2.1.3"),
             ("ms", "2.0.0"), ("undici-types", "5.26.5")}


@pytest.fixture(scope="module")
def files():
    return {p: f for p, f in image_files(TESTDATA).items() if NodeCataloger().wants(p, f.mode, len(f.data))}


def test_node_modules_is_the_truth_where_present(files):
    result = NodeCataloger().catalog(files)
    assert result.warnings == ()
    app = [p for p in result.packages if p.path.startswith("/app/")]
    assert {(p.name, p.version) for p in app} == INSTALLED
    assert all(p.path.endswith("/package.json") for p in app)  # the app's lockfile was not used
    nested = next(p for p in app if p.version == "2.0.0")
    assert nested.path == "/app/node_modules/debug/node_modules/ms/package.json"
    assert next(p for p in app if p.name == "@types/node").purl == "pkg:npm/%40types/node@20.11.0"
    assert all(p.ecosystem is Ecosystem.NPM for p in result.packages)


@pytest.mark.parametrize("lockfile", ["app/package-lock.json", "srv/lock-v1/package-lock.json",
                                      "srv/lock-v2/package-lock.json"])
def test_every_lockfile_version_pins_what_was_installed(lockfile):
    data = (TESTDATA / lockfile).read_bytes()
    assert json.loads(data)["lockfileVersion"] == {"app": 3, "srv/lock-v1": 1, "srv/lock-v2": 2}[lockfile.rsplit("/", 1)[0]]
    assert {(p.name, p.version) for p in parse_package_lock(data, "/" + lockfile)} == INSTALLED


def test_lockfiles_without_node_modules_are_used(files):
    result = NodeCataloger().catalog(files)
    for folder in ("/srv/lock-v1/", "/srv/lock-v2/"):
        assert {(p.name, p.version) for p in result.packages if p.path.startswith(folder)} == INSTALLED


def test_dev_and_linked_entries_are_not_installed_packages():
    lock = {"lockfileVersion": 3, "packages": {
        "": {"name": "x", "version": "1.0.0"},
        "node_modules/jest": {"version": "29.7.0", "dev": True},
        "node_modules/local": {"resolved": "packages/local", "link": True},
        "packages/local": {"name": "local", "version": "0.1.0"},
        "node_modules/aliased": {"name": "lodash", "version": "4.17.21"},
    }}
    packages = parse_package_lock(json.dumps(lock).encode(), "/p/package-lock.json")
    assert [(p.name, p.version) for p in packages] == [("lodash", "4.17.21")]


def test_wants_only_package_roots_and_real_lockfiles():
    cataloger = NodeCataloger()
    assert cataloger.wants("/usr/lib/node_modules/npm/package.json", 0o644, 1)
    assert cataloger.wants("/app/node_modules/@babel/core/package.json", 0o644, 1)
    assert not cataloger.wants("/app/node_modules/lodash/fp/package.json", 0o644, 1)
    assert not cataloger.wants("/app/node_modules/.package-lock.json", 0o644, 1)
    assert not cataloger.wants("/app/package.json", 0o644, 1)
    assert cataloger.wants("/app/package-lock.json", 0o644, 1)


@pytest.mark.parametrize("data,problem", [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "expected a JSON object, found list"),
    (b'{"name": "x"}', "no string 'name' and 'version'"),
    (b"\xff\xfe{", "not valid JSON"),
    (b"[" * 100000 + b"]" * 100000, "JSON nested too deeply"),
])
def test_broken_package_json_is_a_named_warning(data, problem):
    path = "/app/node_modules/x/package.json"
    result = NodeCataloger().catalog({path: file(path, data)})
    assert result.packages == ()
    assert len(result.warnings) == 1 and result.warnings[0].startswith(path) and problem in result.warnings[0]


def test_hostile_v1_nesting_is_bounded():
    deps: dict = {}
    inner = deps
    for _ in range(200):
        inner["a"] = {"version": "1.0.0", "dependencies": {}}
        inner = inner["a"]["dependencies"]
    result = NodeCataloger().catalog({"/x/package-lock.json": file("/x/package-lock.json",
                                                                   json.dumps({"lockfileVersion": 1, "dependencies": deps}))})
    assert result.packages == () and "nested deeper than 64" in result.warnings[0]
