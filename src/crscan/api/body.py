"""Request bodies: the one JSON decoder of every REST route and the push webhook.

Bodies are untrusted and arrive before authentication, so every way `json.loads` can fail or be made expensive
is turned into `BodyError` naming the problem: bytes that are not UTF-8, syntax errors, nesting deeper than any
request message needs (the C decoder recurses once per level), integers longer than any protobuf integer,
`NaN`/`Infinity` (not JSON) and keys given twice (the last one would win silently).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

MAX_BODY_BYTES = 1 << 20
MAX_DEPTH = 32  # request messages nest a few levels; notification envelopes three
MAX_INTEGER_DIGITS = 40  # any protobuf integer has at most 20; longer ones are an attack on int()


class BodyError(ValueError):
    """The body is not acceptable JSON; the message says why (and never echoes more than a few bytes)."""


def decode_json(raw: bytes) -> object:
    """The JSON value of `raw`, or BodyError."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"body is not valid UTF-8: byte {exc.start} is {raw[exc.start:exc.start + 1]!r}") from None
    try:
        document = json.loads(
            text, parse_int=_integer, parse_constant=_constant, object_pairs_hook=_object_without_duplicates
        )
    except RecursionError:
        raise BodyError(f"body nests more than {MAX_DEPTH} levels of arrays and objects") from None
    except json.JSONDecodeError as exc:
        raise BodyError(f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    _check_depth(document)
    return document


def decode_json_object(raw: bytes) -> dict[str, object]:
    """`decode_json` for bodies that must be an object."""
    document = decode_json(raw)
    if not isinstance(document, dict):
        raise BodyError(f"body must be a JSON object, not {_kind(document)}")
    return document


def _integer(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INTEGER_DIGITS:
        raise BodyError(f"body has an integer of {digits} digits; at most {MAX_INTEGER_DIGITS} are accepted")
    return int(text)


def _constant(text: str) -> float:
    raise BodyError(f"body is not valid JSON: {text} is not a JSON number")


def _object_without_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise BodyError(f"body gives the key {key[:100]!r} more than once in one object")
            seen.add(key)
    return document


def _check_depth(document: object) -> None:
    """Breadth-first, without recursion, so any document that decoded is measured safely; every string (keys
    too) must also be encodable as UTF-8: JSON escapes can spell a lone surrogate (`"\\ud800"`), which the
    protobuf runtime fails on with SystemError."""
    level, depth = [document], 0
    while level:
        containers = [node for node in level if isinstance(node, dict | list)]
        if containers and depth >= MAX_DEPTH:
            raise BodyError(f"body nests more than {MAX_DEPTH} levels of arrays and objects")
        level = []
        for node in containers:
            if isinstance(node, dict):
                _check_strings(node.keys())
                level.extend(node.values())
            else:
                level.extend(node)
        _check_strings(node for node in level if isinstance(node, str))
        depth += 1
    _check_strings([document] if isinstance(document, str) else [])


def _check_strings(strings: Iterable[str]) -> None:
    for text in strings:
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise BodyError(f"body has a string with a lone surrogate \\u{ord(text[exc.start]):04x}") from None


def _kind(document: object) -> str:
    if isinstance(document, list):
        return "an array"
    if isinstance(document, str):
        return "a string"
    if isinstance(document, bool):
        return "a boolean"
    if document is None:
        return "null"
    return "a number"
