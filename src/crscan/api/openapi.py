"""`/openapi.json` from the routes the REST transcoder serves, and `/docs`, a self-contained page rendering it.

The document is derived, never written by hand: paths and methods from each `google.api.http` rule (including
additional bindings), path parameters from its template, query parameters from the request message's other
scalar fields (as the transcoder accepts them), request bodies from the rule's `body`, and schemas from message
descriptors under the proto3 JSON mapping (64-bit integers as strings, enums as their names, Timestamp as a
date-time string, Any as an object with `@type`). Every error is a `google.rpc.Status`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

import crscan
from crscan.api.routes import HttpRoute

JsonObject = dict[str, Any]  # a part of the OpenAPI document, as json.dumps takes it

OPENAPI_VERSION = "3.0.3"
STATUS_SCHEMA = "google.rpc.Status"
ANY_SCHEMA = "google.protobuf.Any"

_INTEGER_32 = {
    FieldDescriptor.TYPE_INT32: "int32",
    FieldDescriptor.TYPE_SINT32: "int32",
    FieldDescriptor.TYPE_SFIXED32: "int32",
    FieldDescriptor.TYPE_UINT32: "int64",  # OpenAPI has no uint32 format; int64 holds every value
    FieldDescriptor.TYPE_FIXED32: "int64",
}
_INTEGER_64 = {
    FieldDescriptor.TYPE_INT64: "int64",
    FieldDescriptor.TYPE_SINT64: "int64",
    FieldDescriptor.TYPE_SFIXED64: "int64",
    FieldDescriptor.TYPE_UINT64: "uint64",
    FieldDescriptor.TYPE_FIXED64: "uint64",
}
_WRAPPERS: dict[str, JsonObject] = {
    "google.protobuf.DoubleValue": {"type": "number", "format": "double"},
    "google.protobuf.FloatValue": {"type": "number", "format": "float"},
    "google.protobuf.Int64Value": {"type": "string", "format": "int64"},
    "google.protobuf.UInt64Value": {"type": "string", "format": "uint64"},
    "google.protobuf.Int32Value": {"type": "integer", "format": "int32"},
    "google.protobuf.UInt32Value": {"type": "integer", "format": "int64", "minimum": 0},
    "google.protobuf.BoolValue": {"type": "boolean"},
    "google.protobuf.StringValue": {"type": "string"},
    "google.protobuf.BytesValue": {"type": "string", "format": "byte"},
}
# Well-known types with a special JSON form, inlined rather than referenced.
_WELL_KNOWN: dict[str, JsonObject] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]{1,9})?s$"},
    "google.protobuf.FieldMask": {"type": "string", "description": "comma-separated lowerCamelCase field paths"},
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Empty": {"type": "object"},
    **{name: {**schema, "nullable": True} for name, schema in _WRAPPERS.items()},
}


def build_document(routes: Sequence[HttpRoute]) -> JsonObject:
    """The OpenAPI 3.0 document for `routes` (as `crscan.api.routes.routes_for` returns them)."""
    schemas: dict[str, JsonObject] = {}
    paths: dict[str, JsonObject] = {}
    operation_ids: set[str] = set()
    for route in routes:
        path = _path_of(route)
        operation_id = f"{route.binding.descriptor.name}_{route.method.name}"
        while operation_id in operation_ids:  # an additional binding of the same method
            operation_id += "_alt"
        operation_ids.add(operation_id)
        paths.setdefault(path, {})[route.http_method.lower()] = _operation(route, operation_id, schemas)
    schemas[STATUS_SCHEMA] = {
        "type": "object",
        "description": "An error: the gRPC status code, a message for people, and typed details.",
        "properties": {
            "code": {"type": "integer", "format": "int32"},
            "message": {"type": "string"},
            "details": {"type": "array", "items": {"$ref": _ref(ANY_SCHEMA)}},
        },
    }
    schemas[ANY_SCHEMA] = _any_schema()
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "crscan scanner API",
            "version": crscan.__version__,
            "description": "The Yandex Cloud Container Registry scanner API over REST, as crscan serves it.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def _path_of(route: HttpRoute) -> str:
    parts = [segment if isinstance(segment, str) else "{" + ".".join(segment.field_path) + "}"
             for segment in route.segments]
    return "/" + "/".join(parts) + (f":{route.verb}" if route.verb else "")


def _operation(route: HttpRoute, operation_id: str, schemas: dict[str, JsonObject]) -> JsonObject:
    request = route.method.input_type
    path_fields = {segment.field_path for segment in route.segments if not isinstance(segment, str)}
    parameters = []
    for field_path in sorted(path_fields):
        field = _field_at(request, field_path)
        parameters.append(
            {"name": ".".join(field_path), "in": "path", "required": True, "schema": _field_schema(field, schemas)}
        )
    if route.body != "*":
        bound = {path[0] for path in path_fields if len(path) == 1} | ({route.body} if route.body else set())
        for field in request.fields:
            if field.name in bound or not _settable_from_url(field):
                continue
            parameter = {"name": field.json_name, "in": "query", "schema": _field_schema(field, schemas)}
            if field.is_repeated:
                parameter |= {"style": "form", "explode": True}
            parameters.append(parameter)
    operation: JsonObject = {
        "operationId": operation_id,
        "tags": [route.binding.descriptor.name],
        "summary": f"{route.binding.descriptor.full_name}.{route.method.name}",
        "responses": {
            "200": _json_content("OK", {"$ref": _ref(_register(route.method.output_type, schemas))}),
            "default": _json_content("Error", {"$ref": _ref(STATUS_SCHEMA)}),
        },
    }
    if parameters:
        operation["parameters"] = parameters
    if route.body:
        body_schema = (
            {"$ref": _ref(_register(request, schemas))}
            if route.body == "*"
            else _field_schema(request.fields_by_name[route.body], schemas)
        )
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body_schema}}}
    return operation


def _json_content(description: str, schema: JsonObject) -> JsonObject:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _field_at(message: Descriptor, field_path: tuple[str, ...]) -> FieldDescriptor:
    field = message.fields_by_name[field_path[0]]
    for name in field_path[1:]:
        field = field.message_type.fields_by_name[name]
    return field


def _settable_from_url(field: FieldDescriptor) -> bool:
    """What the transcoder's query parsing accepts: scalars, enums and string-shaped well-known types."""
    if field.type != FieldDescriptor.TYPE_MESSAGE:
        return True
    name = field.message_type.full_name
    return name in _WRAPPERS or name in ("google.protobuf.Timestamp", "google.protobuf.Duration",
                                         "google.protobuf.FieldMask")


def _field_schema(field: FieldDescriptor, schemas: dict[str, JsonObject]) -> JsonObject:
    if field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry:
        value = field.message_type.fields_by_name["value"]
        return {"type": "object", "additionalProperties": _single_schema(value, schemas)}
    schema = _single_schema(field, schemas)
    if field.is_repeated:
        return {"type": "array", "items": schema}
    return schema


def _single_schema(field: FieldDescriptor, schemas: dict[str, JsonObject]) -> JsonObject:
    kind = field.type
    if kind in _INTEGER_32:
        schema = {"type": "integer", "format": _INTEGER_32[kind]}
        return schema | ({"minimum": 0} if kind in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32) else {})
    if kind in _INTEGER_64:
        return {"type": "string", "format": _INTEGER_64[kind]}  # proto3 JSON: 64-bit integers are strings
    if kind == FieldDescriptor.TYPE_DOUBLE:
        return {"type": "number", "format": "double"}
    if kind == FieldDescriptor.TYPE_FLOAT:
        return {"type": "number", "format": "float"}
    if kind == FieldDescriptor.TYPE_BOOL:
        return {"type": "boolean"}
    if kind == FieldDescriptor.TYPE_STRING:
        return {"type": "string"}
    if kind == FieldDescriptor.TYPE_BYTES:
        return {"type": "string", "format": "byte"}
    if kind == FieldDescriptor.TYPE_ENUM:
        return {"type": "string", "enum": [value.name for value in field.enum_type.values]}
    name = field.message_type.full_name
    if name in _WELL_KNOWN:
        return dict(_WELL_KNOWN[name])
    return {"$ref": _ref(_register(field.message_type, schemas))}


def _register(message: Descriptor, schemas: dict[str, JsonObject]) -> str:
    """Add `message` (and, recursively, the messages it refers to) to `schemas`; returns its schema name."""
    name: str = message.full_name
    if name == ANY_SCHEMA:
        return name  # added once by build_document
    if name in schemas:
        return name
    schemas[name] = {}  # placeholder first: messages may refer to themselves
    properties = {field.json_name: _field_schema(field, schemas) for field in message.fields}
    schemas[name] = {"type": "object", "properties": properties} if properties else {"type": "object"}
    return name


def _any_schema() -> JsonObject:
    return {
        "type": "object",
        "description": "A message of the type named by @type, with that message's JSON fields beside it.",
        "properties": {"@type": {"type": "string", "example": "type.googleapis.com/google.protobuf.Empty"}},
        "required": ["@type"],
        "additionalProperties": True,
    }


def _ref(name: str) -> str:
    return f"#/components/schemas/{name}"


def document_json(routes: Sequence[HttpRoute]) -> bytes:
    return json.dumps(build_document(routes), indent=1, sort_keys=False).encode()


# The page reads /openapi.json and builds the DOM with textContent only: nothing from the document is
# interpreted as HTML. No external scripts, styles or fonts: it works air-gapped.
DOCS_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>crscan API</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 70rem; padding: 1rem 2rem; color: #222; }
h2 { border-bottom: 1px solid #ccc; margin-top: 2rem; }
details { border: 1px solid #ddd; border-radius: 4px; margin: .4rem 0; padding: .3rem .6rem; }
summary { cursor: pointer; font-family: ui-monospace, monospace; }
.method { display: inline-block; width: 4.5rem; font-weight: bold; text-transform: uppercase; }
.get { color: #1565c0; } .post { color: #2e7d32; } .delete { color: #c62828; } .patch { color: #ef6c00; }
table { border-collapse: collapse; margin: .4rem 0; }
td, th { border: 1px solid #ddd; padding: .2rem .5rem; text-align: left; }
code, pre { font-family: ui-monospace, monospace; font-size: 13px; }
pre { background: #f6f8fa; padding: .5rem; overflow-x: auto; }
#error { color: #c62828; }
</style>
</head>
<body>
<h1>crscan API</h1>
<p>Generated from <a href="openapi.json">openapi.json</a>. Errors are <code>google.rpc.Status</code> objects.</p>
<form id="auth">
<label>API token (kept in this tab's sessionStorage, sent as <code>Authorization: Bearer</code>):
<input id="token" type="password" autocomplete="off" size="50"></label>
<button type="submit">Load</button> <button type="button" id="forget">Forget</button>
</form>
<p id="error"></p>
<div id="operations"></div>
<h2>Schemas</h2>
<div id="schemas"></div>
<script>
"use strict";
function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}
function typeOf(schema) {
  if (!schema) return "any";
  if (schema.$ref) return schema.$ref.split("/").pop();
  if (schema.type === "array") return typeOf(schema.items) + "[]";
  if (schema.enum) return "enum: " + schema.enum.join(" | ");
  return (schema.type || "any") + (schema.format ? " (" + schema.format + ")" : "");
}
function schemaLink(schema) {
  const name = typeOf(schema);
  if (schema && (schema.$ref || (schema.items && schema.items.$ref))) {
    const a = el("a", name);
    a.href = "#schema-" + (schema.$ref || schema.items.$ref).split("/").pop();
    return a;
  }
  return el("code", name);
}
function table(headers, rows) {
  const t = el("table");
  const head = el("tr");
  headers.forEach(h => head.appendChild(el("th", h)));
  t.appendChild(head);
  rows.forEach(cells => {
    const tr = el("tr");
    cells.forEach(c => {
      const td = el("td");
      td.appendChild(typeof c === "string" ? el("span", c) : c);
      tr.appendChild(td);
    });
    t.appendChild(tr);
  });
  return t;
}
function render(doc) {
  document.title = doc.info.title;
  const byTag = {};
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      (byTag[op.tags[0]] = byTag[op.tags[0]] || []).push([path, method, op]);
    }
  }
  const operations = document.getElementById("operations");
  for (const tag of Object.keys(byTag).sort()) {
    operations.appendChild(el("h2", tag));
    for (const [path, method, op] of byTag[tag]) {
      const box = el("details");
      const summary = el("summary");
      summary.appendChild(el("span", method, "method " + method));
      summary.appendChild(el("span", path));
      box.appendChild(summary);
      box.appendChild(el("p", op.summary));
      const params = op.parameters || [];
      if (params.length) {
        box.appendChild(table(["parameter", "in", "type", "required"],
          params.map(p => [p.name, p.in, schemaLink(p.schema), p.required ? "yes" : "no"])));
      }
      if (op.requestBody) {
        const p = el("p", "Request body: ");
        p.appendChild(schemaLink(op.requestBody.content["application/json"].schema));
        box.appendChild(p);
      }
      for (const [code, response] of Object.entries(op.responses)) {
        const p = el("p", "Response " + code + ": ");
        p.appendChild(schemaLink(response.content["application/json"].schema));
        box.appendChild(p);
      }
      operations.appendChild(box);
    }
  }
  const schemas = document.getElementById("schemas");
  for (const [name, schema] of Object.entries(doc.components.schemas)) {
    const box = el("details");
    box.id = "schema-" + name;
    box.appendChild(el("summary", name));
    const props = Object.entries(schema.properties || {});
    if (props.length) box.appendChild(table(["field", "type"], props.map(([k, v]) => [k, schemaLink(v)])));
    else box.appendChild(el("pre", JSON.stringify(schema, null, 1)));
    schemas.appendChild(box);
  }
  if (location.hash) {
    const target = document.getElementById(location.hash.slice(1));
    if (target) { target.open = true; target.scrollIntoView(); }
  }
}
// With auth on, openapi.json needs a token: the page asks for one and keeps it for this tab only.
const TOKEN_KEY = "crscan-api-token";
function clear() {
  for (const id of ["error", "operations", "schemas"]) {
    const node = document.getElementById(id);
    node.textContent = "";
    if (node.children) node.children.length = 0;
  }
}
function load() {
  clear();
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = token ? { Authorization: "Bearer " + token } : {};
  fetch("openapi.json", { headers, credentials: "omit", cache: "no-store" }).then(r => {
    if (r.status === 401) throw new Error(token ? "the token was refused (HTTP 401): enter another one"
                                                : "this server needs an API token: enter one above");
    if (!r.ok) throw new Error("openapi.json: HTTP " + r.status);
    return r.json();
  }).then(render).catch(e => { document.getElementById("error").textContent = String(e.message || e); });
}
document.getElementById("auth").addEventListener("submit", event => {
  event.preventDefault();
  const token = document.getElementById("token").value.trim();
  if (token) sessionStorage.setItem(TOKEN_KEY, token); else sessionStorage.removeItem(TOKEN_KEY);
  document.getElementById("token").value = "";
  load();
});
document.getElementById("forget").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); load(); });
load();
</script>
</body>
</html>
"""
