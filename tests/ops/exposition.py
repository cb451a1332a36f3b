"""A strict reader of the Prometheus text exposition format (0.0.4), so tests check what a scraper would accept."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(rf"^({_NAME})(?:\{{(.*)\}})? (\S+)(?: (-?\d+))?$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)')
_TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}
_SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("", "_sum", "_count")}


class ExpositionError(AssertionError):
    pass


@dataclass
class Family:
    name: str
    type: str = "untyped"
    help: str = ""
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)

    def value(self, sample_name: str | None = None, **labels: str) -> float:
        wanted = sample_name or self.name
        found = [v for n, l, v in self.samples if n == wanted and l == labels]
        if len(found) != 1:
            raise KeyError(f"{wanted}{labels}: {len(found)} samples")
        return found[0]


def parse(text: str) -> dict[str, Family]:
    if not text.endswith("\n"):
        raise ExpositionError("exposition must end with a newline")
    families: dict[str, Family] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                if not re.fullmatch(_NAME, parts[2]):
                    raise ExpositionError(f"line {number}: bad metric name {parts[2]!r}")
                family = families.setdefault(parts[2], Family(parts[2]))
                if family.samples:
                    raise ExpositionError(f"line {number}: {parts[1]} after samples of {parts[2]}")
                if parts[1] == "TYPE":
                    if len(parts) != 4 or parts[3] not in _TYPES:
                        raise ExpositionError(f"line {number}: bad TYPE line {line!r}")
                    family.type = parts[3]
                else:
                    family.help = parts[3] if len(parts) == 4 else ""
            continue
        match = _SAMPLE.match(line)
        if not match:
            raise ExpositionError(f"line {number}: not a sample: {line!r}")
        name, label_text, value_text, _ = match.groups()
        labels = _labels(label_text or "", number)
        value = _value(value_text, number)
        family = _family_of(name, families)
        if family is None:
            raise ExpositionError(f"line {number}: sample {name} has no TYPE declared before it")
        family.samples.append((name, labels, value))
    for family in families.values():
        _check(family)
    return families


def _labels(text: str, number: int) -> dict[str, str]:
    labels: dict[str, str] = {}
    position = 0
    while position < len(text):
        match = _LABEL.match(text, position)
        if not match:
            raise ExpositionError(f"line {number}: bad labels {text!r}")
        raw = match.group(2)
        labels[match.group(1)] = re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), raw)
        position = match.end()
    return labels


def _value(text: str, number: int) -> float:
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf"))
    try:
        return float(text)
    except ValueError:
        raise ExpositionError(f"line {number}: bad value {text!r}") from None


def _family_of(name: str, families: dict[str, Family]) -> Family | None:
    if name in families:
        return families[name]
    for family in families.values():
        if any(name == family.name + suffix for suffix in _SUFFIXES.get(family.type, ())):
            return family
    return None


def _check(family: Family) -> None:
    if family.type == "counter" and any(v < 0 or math.isnan(v) for _, _, v in family.samples):
        raise ExpositionError(f"{family.name}: negative counter")
    if family.type == "histogram":
        buckets = [(l["le"], v) for n, l, v in family.samples if n.endswith("_bucket")]
        bounds = [_value(le, 0) for le, _ in buckets]
        counts = [v for _, v in buckets]
        if not bounds or bounds[-1] != math.inf or bounds != sorted(bounds):
            raise ExpositionError(f"{family.name}: buckets must be sorted and end with +Inf")
        if counts != sorted(counts):
            raise ExpositionError(f"{family.name}: bucket counts must be cumulative")
        if counts[-1] != family.value(family.name + "_count"):
            raise ExpositionError(f"{family.name}: +Inf bucket differs from _count")
