"""List-method plumbing shared by the servicers: page sizes, `filter` and `orderBy` parsing, signed page tokens.

The filter and orderBy grammars are tiny and parsed by a tokenizer, never evaluated:

    filter   := term ("AND" term)*          term := FIELD "=" STRING       (spaces allowed around "=")
    orderBy  := FIELD [("asc" | "desc")]

A page token is `base64url(version · payload · mac)`: the payload is the last row's sort key (typed values,
varint-packed), the mac an HMAC-SHA256 over the request it belongs to (method, scope, filter, order) and the
payload, truncated to 12 bytes. Forged, garbled or borrowed tokens fail verification → INVALID_ARGUMENT.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc

from crscan.api.errors import ApiError, invalid_argument

T = TypeVar("T")
PageTokenValues = tuple[int | str, ...]  # the sort key values of a page's last row
# What `read` gives back: the values the same request packed (the MAC binds a token to its request context), so
# each caller knows their types and order.
IssuedValues = tuple[Any, ...]

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_PAGE_TOKEN_LENGTH = 100
MAX_FILTER_LENGTH = 1000  # the protos' `length: "<=1000"` / `"<=100"` on filter / order_by
MAX_ORDER_BY_LENGTH = 100

_TOKEN_VERSION = 1
_MAC_LENGTH = 12
_INT, _STR = 1, 2

_FILTER_TOKENS = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<open_string>"[^"]*$)
      | (?P<operator>[=!<>:~]+)
      | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
      | (?P<other>[^\s"=!<>:~]+)
    )""",
    re.VERBOSE,
)


def page_size(value: int) -> int:
    """The request's page size with 0 meaning the default; outside 0–1000 → INVALID_ARGUMENT."""
    if not 0 <= value <= MAX_PAGE_SIZE:
        raise invalid_argument(f"page_size must be between 0 and {MAX_PAGE_SIZE}, got {value}")
    return value or DEFAULT_PAGE_SIZE


def parse_filter(text: str, fields: Mapping[str, Callable[[str], T]]) -> dict[str, T]:
    """`field="value" [AND field="value" …]` → {field: converted value}.

    `fields` maps each accepted field name to a converter that raises ValueError (with a message) for a value
    it does not accept. Every rejection names the offending part.
    """
    if len(text) > MAX_FILTER_LENGTH:
        raise invalid_argument(f"filter is too long: {len(text)} characters, at most {MAX_FILTER_LENGTH}")
    tokens = _tokenize_filter(text)
    result: dict[str, T] = {}
    position = 0
    while position < len(tokens):
        if result:
            kind, value = tokens[position]
            if kind != "word" or value.upper() != "AND":
                raise invalid_argument(f"filter: expected AND between conditions, got {value!r}")
            position += 1
        field, operator, operand = (tokens[position : position + 3] + [("end", "")] * 3)[:3]
        if field[0] != "word":
            raise invalid_argument(f"filter: expected a field name, got {field[1] or 'end of filter'!r}")
        if field[1] not in fields:
            allowed = ", ".join(sorted(fields))
            raise invalid_argument(f"filter: unknown field {field[1]!r}; filterable fields: {allowed}")
        if operator[0] == "end":
            raise invalid_argument(f'filter: {field[1]} has no condition; expected {field[1]}="…"')
        if operator != ("operator", "="):
            raise invalid_argument(
                f"filter: unsupported operator {operator[1]!r} after {field[1]}; only = is supported"
            )
        if operand[0] == "open_string":
            raise invalid_argument(f"filter: the value of {field[1]} has no closing double quote")
        if operand[0] != "string":
            raise invalid_argument(
                f'filter: the value of {field[1]} must be in double quotes, like {field[1]}="…", '
                f"got {operand[1] or 'nothing'!r}"
            )
        if field[1] in result:
            raise invalid_argument(f"filter: {field[1]} is given more than once")
        raw = re.sub(r"\\(.)", r"\1", operand[1][1:-1])
        if not raw.isprintable():
            raise invalid_argument(f"filter: the value of {field[1]} contains control characters")
        try:
            result[field[1]] = fields[field[1]](raw)
        except ValueError as exc:
            raise invalid_argument(f"filter: invalid value {raw!r} for {field[1]}: {exc}") from None
        position += 3
    return result


def _tokenize_filter(text: str) -> list[tuple[str, str]]:
    tokens = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _FILTER_TOKENS.match(text, position)
        if match is None or match.end() == position:
            raise invalid_argument(f"filter: cannot read {text[position:]!r}")
        kind = match.lastgroup
        assert kind is not None  # every alternative of _FILTER_TOKENS is a named group
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


@dataclass(frozen=True)
class OrderBy:
    key: str  # the store's sort key name
    descending: bool


def parse_order_by(
    text: str, fields: Mapping[str, str], default: OrderBy, fixed_direction: Mapping[str, bool] = {}
) -> OrderBy:
    """`field [asc|desc]` → OrderBy. `fields` maps accepted spellings to the store's key names; keys in
    `fixed_direction` have one meaningful direction ("critical first") and refuse asc/desc."""
    if len(text) > MAX_ORDER_BY_LENGTH:
        raise invalid_argument(f"order_by is too long: {len(text)} characters, at most {MAX_ORDER_BY_LENGTH}")
    words = text.split()
    if not words:
        return default
    if "," in text:
        raise invalid_argument("order_by: sorting by several fields is not supported; give one field")
    field = words[0]
    if field not in fields:
        allowed = ", ".join(fields)
        raise invalid_argument(f"order_by: unknown field {field!r}; sortable fields: {allowed}")
    key = fields[field]
    if len(words) > 2:
        raise invalid_argument(f"order_by: unexpected {' '.join(words[2:])!r} after {' '.join(words[:2])!r}")
    if key in fixed_direction:
        if len(words) == 2:
            raise invalid_argument(f"order_by: {field} takes no direction; it always sorts critical first")
        return OrderBy(key, fixed_direction[key])
    if len(words) == 1:
        return OrderBy(key, False)
    direction = words[1].lower()
    if direction not in ("asc", "desc"):
        raise invalid_argument(f"order_by: direction must be asc or desc, got {words[1]!r}")
    return OrderBy(key, direction == "desc")


class PageTokens:
    """Issues and verifies page tokens with the installation's secret key."""

    def __init__(self, key: bytes):
        self._key = key

    def issue(self, request_context: str, values: PageTokenValues) -> str:
        payload = bytes([_TOKEN_VERSION]) + _pack(values)
        token = base64.urlsafe_b64encode(payload + self._mac(request_context, payload)).rstrip(b"=").decode()
        if len(token) > MAX_PAGE_TOKEN_LENGTH:  # cannot happen with the sort keys the servicers use
            raise ApiError(grpc.StatusCode.INTERNAL, "page token would exceed 100 characters")
        return token

    def read(self, token: str, request_context: str) -> IssuedValues | None:
        """The values a token carries, None for an empty token; anything unverifiable → INVALID_ARGUMENT."""
        if not token:
            return None
        if len(token) > MAX_PAGE_TOKEN_LENGTH:
            raise invalid_argument(f"page_token is too long: {len(token)} characters, at most {MAX_PAGE_TOKEN_LENGTH}")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise invalid_argument("page_token is not a token this server issued") from None
        payload, mac = raw[:-_MAC_LENGTH], raw[-_MAC_LENGTH:]
        if len(payload) < 1 or not hmac.compare_digest(mac, self._mac(request_context, payload)):
            raise invalid_argument(
                "page_token is not valid for this request: use the nextPageToken of the same list request"
            )
        if payload[0] != _TOKEN_VERSION:
            raise invalid_argument("page_token comes from an incompatible server version; start from the first page")
        return _unpack(payload[1:])

    def _mac(self, request_context: str, payload: bytes) -> bytes:
        message = request_context.encode() + b"\x00" + payload
        return hmac.new(self._key, message, hashlib.sha256).digest()[:_MAC_LENGTH]


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte = number & 0x7F
        number >>= 7
        if number:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _pack(values: PageTokenValues) -> bytes:
    out = bytearray()
    for value in values:
        if isinstance(value, int):
            out.append(_INT)
            out += _varint(value * 2 if value >= 0 else -value * 2 - 1)  # zigzag
        else:
            encoded = value.encode()
            out.append(_STR)
            out += _varint(len(encoded)) + encoded
    return bytes(out)


def _unpack(data: bytes) -> IssuedValues:
    """Inverse of `_pack`; only ever sees MAC-verified bytes, so a failure here is a server bug."""
    values: list[int | str] = []
    position = 0

    def varint() -> int:
        nonlocal position
        number = shift = 0
        while True:
            byte = data[position]
            position += 1
            number |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return number

    while position < len(data):
        tag = data[position]
        position += 1
        if tag == _INT:
            zigzag = varint()
            values.append(zigzag // 2 if zigzag % 2 == 0 else -(zigzag + 1) // 2)
        else:
            length = varint()
            values.append(data[position : position + length].decode())
            position += length
    return tuple(values)
