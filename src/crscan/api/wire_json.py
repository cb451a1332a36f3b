"""Proto3 JSON for REST responses: exactly the dict `json_format.MessageToDict(message)` returns, built faster.

`json_format` re-reads the descriptor of every field of every message it prints (a page of 100 images is ~2,000
field visits, each through several descriptor lookups). Here each message type's descriptor is read once and
turned into a printing function with one statement per field. The output is the same: fields in
field-number order (what `ListFields` yields), implicit-presence fields only when not default, int64 as
strings, enum names (the number when unknown), bytes as base64, RFC 3339 timestamps as `ToJsonString` prints
them. Anything the generated printers do not cover (float fields, whose presence and formatting have edge
cases; closed enums; extensions; the well-known types other than Timestamp/Duration/FieldMask) is printed by
`json_format` itself, so the output never differs — tests/api/test_wire_json.py compares them on real data.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import keyword
import threading
from collections.abc import Callable
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor

JsonValue = Any
Printer = Callable[[Any], JsonValue]

_INT64_TYPES = frozenset({FieldDescriptor.CPPTYPE_INT64, FieldDescriptor.CPPTYPE_UINT64})
_FLOAT_TYPES = frozenset({FieldDescriptor.CPPTYPE_FLOAT, FieldDescriptor.CPPTYPE_DOUBLE})
# Well-known types json_format prints with their own ToJsonString (its `_GenericMessageToJsonObject`).
_TO_JSON_STRING = frozenset({"google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask"})
# The other well-known types json_format special-cases (`_WKTJSONMETHODS`, wrappers): printed by json_format.
_SPECIAL = frozenset({"google.protobuf.Any", "google.protobuf.Struct", "google.protobuf.Value",
                      "google.protobuf.ListValue"})

_printers: dict[str, Printer] = {}
_lock = threading.Lock()


def message_to_dict(message: Any) -> JsonValue:
    """`json_format.MessageToDict(message)` with its default options."""
    return printer_for(message.DESCRIPTOR)(message)


def printer_for(descriptor: Descriptor) -> Printer:
    printer = _printers.get(descriptor.full_name)
    if printer is None:
        with _lock:
            printer = _printers.get(descriptor.full_name) or _compile(descriptor)
    return printer


def _generic(message: Any) -> JsonValue:
    return json_format.MessageToDict(message)


def _to_json_string(message: Any) -> JsonValue:
    return message.ToJsonString()


_EPOCH = dt.datetime(1970, 1, 1)
_MIN_SECONDS, _MAX_SECONDS = -62135596800, 253402300799  # 0001-01-01T00:00:00Z, 9999-12-31T23:59:59Z


@functools.lru_cache(maxsize=4096)
def _date(days: int) -> str:
    return (_EPOCH + dt.timedelta(days=days)).date().isoformat()


def _timestamp(message: Any) -> str:
    """`Timestamp.ToJsonString()` (a page of scan results prints a hundred): the same RFC 3339 text with 0, 3, 6
    or 9 fractional digits, in integer arithmetic; out-of-range values go to ToJsonString for its error."""
    seconds, nanos = message.seconds, message.nanos
    if not (_MIN_SECONDS <= seconds <= _MAX_SECONDS and 0 <= nanos < 1_000_000_000):
        return str(message.ToJsonString())
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    text = f"{_date(days)}T{hours:02d}:{minutes:02d}:{seconds:02d}"
    if nanos == 0:
        return text + "Z"
    if nanos % 1_000_000 == 0:
        return f"{text}.{nanos // 1_000_000:03d}Z"
    if nanos % 1_000 == 0:
        return f"{text}.{nanos // 1_000:06d}Z"
    return f"{text}.{nanos:09d}Z"


def _compile(descriptor: Descriptor) -> Printer:
    """The printer of one message type: a function generated from its plan (one statement per field, the way
    `dataclasses` builds `__init__`), registered before its fields' printers so recursive types resolve."""
    name = descriptor.full_name
    if name in _printers:
        return _printers[name]
    if name == "google.protobuf.Timestamp":
        return _printers.setdefault(name, _timestamp)
    if name in _TO_JSON_STRING:
        return _printers.setdefault(name, _to_json_string)
    if name in _SPECIAL or descriptor.file.name == "google/protobuf/wrappers.proto" or not _plannable(descriptor):
        return _printers.setdefault(name, _generic)
    namespace: dict[str, Any] = {"b64encode": base64.b64encode}
    _printers[name] = lambda message: namespace["print_message"](message)  # until the real one exists
    lines = ["def print_message(m):", "    js = {}"]
    for n, field in enumerate(sorted(descriptor.fields, key=lambda f: f.number)):
        key = repr(field.json_name)
        attribute = f"getattr(m, {field.name!r})" if keyword.iskeyword(field.name) else f"m.{field.name}"
        if field.is_repeated:
            if field.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE and field.message_type.GetOptions().map_entry:
                entry = field.message_type
                key_field, value_field = entry.fields_by_name["key"], entry.fields_by_name["value"]
                item = _value_expression(value_field, namespace, f"f{n}", "v[k]")
                printed_key = '("true" if k else "false")' if key_field.cpp_type == FieldDescriptor.CPPTYPE_BOOL \
                    else "str(k)"
                lines += [f"    v = {attribute}", f"    if v: js[{key}] = {{{printed_key}: {item} for k in v}}"]
            else:
                item = _value_expression(field, namespace, f"f{n}", "x")
                lines += [f"    v = {attribute}", f"    if v: js[{key}] = [{item} for x in v]"]
        elif field.has_presence:
            value = _value_expression(field, namespace, f"f{n}", attribute)
            lines += [f"    if m.HasField({field.name!r}): js[{key}] = {value}"]
        else:
            value = _value_expression(field, namespace, f"f{n}", "v")
            lines += [f"    v = {attribute}", f"    if v: js[{key}] = {value}"]
    lines.append("    return js")
    exec("\n".join(lines), namespace)
    printer: Printer = namespace["print_message"]
    _printers[name] = printer
    return printer


def _value_expression(field: FieldDescriptor, namespace: dict[str, Any], slot: str, value: str) -> str:
    """The expression json_format's `_FieldToJsonObject` amounts to for this field's type, applied to `value`."""
    if field.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
        namespace[slot] = _compile(field.message_type)
        return f"{slot}({value})"
    if field.cpp_type == FieldDescriptor.CPPTYPE_ENUM:
        namespace[slot] = {v.number: v.name for v in field.enum_type.values}
        return f"{slot}.get({value}, {value})"  # an unknown number of an open enum prints as the number
    if field.cpp_type in _INT64_TYPES:
        return f"str({value})"
    if field.type == FieldDescriptor.TYPE_BYTES:
        return f"b64encode({value}).decode('utf-8')"
    return value  # string, bool, 32-bit integers: json_format returns them as they are


def _plannable(descriptor: Descriptor) -> bool:
    """Whether a generated printer prints this type exactly as json_format does (its own fields only; nested
    types get their own printer or fall back themselves)."""
    if descriptor.extension_ranges:
        return False
    for field in descriptor.fields:
        if field.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE and field.message_type.GetOptions().map_entry:
            field = field.message_type.fields_by_name["value"]  # keys are integers, strings or bools
        if field.cpp_type in _FLOAT_TYPES:
            return False
        if field.cpp_type == FieldDescriptor.CPPTYPE_ENUM and (
            field.enum_type.is_closed or field.enum_type.full_name == "google.protobuf.NullValue"
        ):
            return False
    return True
