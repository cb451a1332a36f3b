"""Which declared licenses are SPDX license expressions, for the SBOM formats.

Package metadata holds SPDX expressions ("MIT OR Apache-2.0") and free text ("BSD License", "LGPL v3") alike.
Both SBOM formats must tell them apart: CycloneDX writes an expression as `expression` and anything else as a
license `name`; SPDX accepts only expressions over the SPDX License List, anything else becomes a LicenseRef.
An expression counts only when it parses and every identifier is on the list (schema/spdx-license-ids.json).
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources

_TOKEN = re.compile(r"\s*(\(|\)|[A-Za-z0-9.\-:]+\+?)")
_OPERATORS = frozenset({"AND", "OR", "WITH"})


@cache
def _known() -> tuple[frozenset[str], frozenset[str]]:
    """Lower-cased SPDX license and exception ids (SPDX matches ids case-insensitively)."""
    text = resources.files("crscan.report").joinpath("schema/spdx-license-ids.json").read_text("utf-8")
    document = json.loads(text)
    return (frozenset(i.lower() for i in document["licenses"]), frozenset(i.lower() for i in document["exceptions"]))


def _tokens(text: str) -> list[str] | None:
    tokens: list[str] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            return None if text[position:].strip() else tokens
        tokens.append(match.group(1))
        position = match.end()
    return tokens


def is_spdx_expression(text: str) -> bool:
    """True when `text` is an SPDX license expression over listed ids (LicenseRef-… ids are not accepted: a
    document using one must define it, which the SBOM writers do themselves)."""
    tokens = _tokens(text)
    if not tokens:
        return False
    licenses, exceptions = _known()
    position = 0

    def term() -> bool:
        nonlocal position
        if position >= len(tokens):
            return False
        token = tokens[position]
        position += 1
        if token == "(":
            if not expression() or position >= len(tokens) or tokens[position] != ")":
                return False
            position += 1
            return True
        if token in _OPERATORS or token == ")" or token.removesuffix("+").lower() not in licenses:
            return False
        if position < len(tokens) and tokens[position] == "WITH":
            position += 1
            if position >= len(tokens) or tokens[position].lower() not in exceptions:
                return False
            position += 1
        return True

    def expression() -> bool:
        nonlocal position
        if not term():
            return False
        while position < len(tokens) and tokens[position] in ("AND", "OR"):
            position += 1
            if not term():
                return False
        return True

    return expression() and position == len(tokens)
