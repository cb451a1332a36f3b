"""The HTTP routes of the bound services, read from each method's `google.api.http` rule.

Both the REST transport (`crscan.api.rest`) and the OpenAPI document (`crscan.api.openapi`) are built from these
routes, so neither needs the other.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from google.api import annotations_pb2
from google.protobuf.descriptor import MethodDescriptor

from crscan.api.grpc_server import ServiceBinding


class TemplateError(ValueError):
    """An `google.api.http` path template uses syntax this transcoder does not support."""


@dataclass(frozen=True)
class Variable:
    field_path: tuple[str, ...]  # proto field names, e.g. ("image_id",)


@dataclass(frozen=True)
class HttpRoute:
    http_method: str
    segments: tuple[str | Variable, ...]  # literal text or a single-segment variable
    verb: str  # custom verb after ":", "" when none
    body: str  # "", "*" or the name of the field the body fills
    binding: ServiceBinding
    method: MethodDescriptor

    @property
    def grpc_method(self) -> str:
        return self.binding.method_path(self.method.name)

    def match_path(self, raw_path: str) -> dict[tuple[str, ...], str] | None:
        """Variable values (percent-decoded) when `raw_path` fits this template, else None."""
        if self.verb:
            suffix = ":" + self.verb
            if not raw_path.endswith(suffix):
                return None
            raw_path = raw_path[: -len(suffix)]
        parts = raw_path.split("/")
        if parts[0] != "" or len(parts) - 1 != len(self.segments):
            return None
        values = {}
        for segment, part in zip(self.segments, parts[1:], strict=True):  # lengths checked above
            if isinstance(segment, Variable):
                if not part or ":" in part:
                    return None
                values[segment.field_path] = unquote(part)
            elif unquote(part) != segment:
                return None
        return values


def parse_template(template: str) -> tuple[tuple[str | Variable, ...], str]:
    """Split `/a/{b}/c:verb` into segments and verb; only literals and `{field}` / `{field=*}` are supported."""
    if not template.startswith("/"):
        raise TemplateError(f"path template {template!r} must start with '/'")
    for variable in re.findall(r"\{([^}]*)\}", template):
        if variable.partition("=")[2] not in ("", "*"):
            raise TemplateError(f"path template {template!r}: multi-segment variable {{{variable}}} is not supported")
    path, verb = template, ""
    last_slash = template.rfind("/")
    colon = template.rfind(":")
    if colon > last_slash and "}" not in template[colon:]:
        path, verb = template[:colon], template[colon + 1 :]
    segments: list[str | Variable] = []
    for part in path[1:].split("/"):
        if part.startswith("{") and part.endswith("}"):
            segments.append(Variable(tuple(part[1:-1].partition("=")[0].split("."))))
        elif not part or any(c in part for c in "{}*"):
            raise TemplateError(f"path template {template!r}: segment {part!r} is not supported")
        else:
            segments.append(part)
    return tuple(segments), verb


def routes_for(bindings: Sequence[ServiceBinding]) -> list[HttpRoute]:
    """Every HTTP rule (including additional bindings) of every bound service's methods."""
    routes = []
    for binding in bindings:
        for method in binding.descriptor.methods:
            options = method.GetOptions()
            if not options.HasExtension(annotations_pb2.http):
                continue  # gRPC-only method, e.g. RegistryService.ForceDelete
            rule = options.Extensions[annotations_pb2.http]
            for each in (rule, *rule.additional_bindings):
                kind = each.WhichOneof("pattern")
                if kind == "custom":
                    http_method, template = each.custom.kind.upper(), each.custom.path
                else:
                    http_method, template = kind.upper(), getattr(each, kind)
                segments, verb = parse_template(template)
                routes.append(HttpRoute(http_method, segments, verb, each.body, binding, method))
    return routes
