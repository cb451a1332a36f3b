"""The `/docs` page's script, run under Node with a minimal DOM, lists every operation and schema of the document."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

NODE = shutil.which("node")

# Just enough DOM for the page: elements with children and text, the page's fixed ids, fetch of openapi.json.
DOM_SHIM = """
const byId = {};
function element(tag) {
  return { tag, children: [], textContent: "", className: "", id: "", href: "", open: false, value: "",
           listeners: {}, addEventListener(type, fn) { this.listeners[type] = fn; },
           appendChild(child) { this.children.push(child); return child; }, scrollIntoView() {} };
}
for (const id of ["error", "operations", "schemas", "auth", "token", "forget"]) {
  byId[id] = element("div"); byId[id].id = id;
}
const stored = {};
globalThis.sessionStorage = { getItem: k => (k in stored ? stored[k] : null), setItem: (k, v) => { stored[k] = v; },
  removeItem: k => { delete stored[k]; } };
globalThis.document = { title: "", createElement: element,
  getElementById: id => byId[id] || (function find(nodes) {
    for (const n of nodes) { if (n.id === id) return n; const hit = find(n.children); if (hit) return hit; }
    return null; })(Object.values(byId)) };
globalThis.location = { hash: "" };
globalThis.fetch = url => Promise.resolve(url === "openapi.json"
  ? { ok: true, json: () => Promise.resolve(DOCUMENT) } : { ok: false, status: 404 });
function text(node) { return [node.textContent, ...node.children.map(text)].join(" "); }
setTimeout(() => console.log(JSON.stringify({ title: document.title, error: byId.error.textContent,
  operations: text(byId.operations), schemas: text(byId.schemas),
  tree: JSON.stringify(byId.operations) })), 50);
"""


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_docs_script_renders_every_operation_and_schema(shared_api):
    document = shared_api.http.get("/openapi.json").json()
    page = shared_api.http.get("/docs").text
    (script,) = re.findall(r"<script>(.*?)</script>", page, re.S)
    program = f"const DOCUMENT = {json.dumps(document)};\n{DOM_SHIM}\n{script}"
    done = subprocess.run([NODE, "-e", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["error"] == ""
    assert shown["title"] == document["info"]["title"]
    for path, methods in document["paths"].items():
        assert path in shown["operations"]
        for operation in methods.values():
            assert operation["summary"] in shown["operations"]
            for parameter in operation.get("parameters", []):
                assert parameter["name"] in shown["operations"]
    for name, schema in document["components"]["schemas"].items():
        assert name in shown["schemas"]
        for field in schema.get("properties", {}):
            assert field in shown["schemas"]
    assert '"href":"#schema-yandex.cloud.operation.Operation"' in shown["tree"]  # responses link their schema

