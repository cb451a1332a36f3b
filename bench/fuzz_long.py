"""A long local run of the CI fuzz targets (tests/fuzz/targets.py): at least 1,000,000 executions in total.

    .venv/bin/python bench/fuzz_long.py [--executions 1000000] [--seeds 3000] [--targets NAME ...] [--no-record]

Per target, two phases:
1. Hypothesis generates `--seeds` structured inputs through the target's own strategy (every one executed);
2. mutators derive the rest of the target's share from those seeds: a byte-level one (overwrite, insert,
   delete, splice, truncate — what libFuzzer's default mutators do) and, for JSON inputs, half the time a
   structural one (replace, delete or graft a node with values from other seeds), so inputs get past the
   JSON decoder into the parser's own checks. An execution then costs the parser's time and not
   Hypothesis's, which makes a million executions fit in minutes on 2 cores.

Any exception other than the target's documented error is a crash: counted by (type, place), the first
input of each kind saved under the output directory. Baseline measured in the same run: the mutator alone
(no parse), so the ratio says how much of each execution is spent in the parser.
Appends one line to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.fuzz.targets import TARGETS, Target  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


# Each target's input as bytes and back, so one mutator serves all of them.
def to_bytes(name: str, value: object) -> bytes:
    if name == "osv_record":
        return json.dumps(value).encode()
    if name == "image_config":
        content, layers = value
        return bytes([layers]) + content
    return value


def from_bytes(name: str, data: bytes) -> object:
    if name == "osv_record":
        return json.loads(data)  # parse_all_zip does the same before parse_record; ValueError is a rejection
    if name == "image_config":
        return (data[1:], data[0] % 4) if data else (b"", 0)
    return data


JSON_TARGETS = {"osv_record": 0, "debian_tracker_json": 0, "alpine_secdb": 0, "image_config": 1,  # JSON offset
                "rest_body": 0, "webhook_body": 0}


def json_parts(value: object, values: list, keys: list) -> None:
    """Every sub-value and object key of a decoded JSON document, for grafting into others."""
    values.append(value)
    if isinstance(value, dict):
        keys.extend(value)
        for item in value.values():
            json_parts(item, values, keys)
    elif isinstance(value, list):
        for item in value:
            json_parts(item, values, keys)


def mutate_json(rng: random.Random, value: object, values: list, keys: list) -> object:
    """A copy of `value` with one node along a random path replaced, deleted or grafted."""
    if isinstance(value, dict) and value and rng.random() < 0.75:
        copy, key = dict(value), rng.choice(list(value))
        action = rng.randrange(3)
        if action == 0:
            copy[key] = mutate_json(rng, value[key], values, keys)
        elif action == 1:
            del copy[key]
        else:
            copy[rng.choice(keys)] = rng.choice(values)
        return copy
    if isinstance(value, list) and value and rng.random() < 0.75:
        copy, index = list(value), rng.randrange(len(value))
        action = rng.randrange(3)
        if action == 0:
            copy[index] = mutate_json(rng, value[index], values, keys)
        elif action == 1:
            del copy[index]
        else:
            copy.insert(index, rng.choice(values))
        return copy
    return rng.choice(values)


def mutate(rng: random.Random, data: bytes, seeds: list[bytes]) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(6)
        position = rng.randrange(len(buffer) + 1)
        if kind == 0 and buffer:
            buffer[min(position, len(buffer) - 1)] = rng.randrange(256)
        elif kind == 1:
            buffer[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif kind == 2:
            del buffer[position:position + rng.randint(1, 16)]
        elif kind == 3:
            other = rng.choice(seeds)
            start = rng.randrange(len(other) + 1)
            buffer[position:position] = other[start:start + rng.randint(1, 64)]
        elif kind == 4:
            del buffer[position:]
        elif buffer:  # flip a bit of an ASCII digit/character (lengths, counts, JSON numbers)
            index = min(position, len(buffer) - 1)
            buffer[index] ^= 1 << rng.randrange(8)
    return bytes(buffer)


class Run:
    def __init__(self, target: Target, out: Path) -> None:
        self.target, self.out = target, out
        self.executions = self.rejections = 0
        self.crashes: Counter[str] = Counter()

    def execute(self, value: object) -> None:
        self.executions += 1
        try:
            self.target.run(value)
        except self.target.documented_error:
            self.rejections += 1
        except Exception as exc:  # noqa: BLE001 - every other exception is the finding
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            kind = f"{type(exc).__name__} at {Path(frame.filename).name}:{frame.lineno}"
            if not self.crashes[kind]:
                (self.out / f"{self.target.name}-{len(self.crashes)}.input").write_text(repr(value)[:100_000])
            self.crashes[kind] += 1


def run_target(target: Target, seeds_wanted: int, executions: int, rng: random.Random, out: Path) -> Run:
    run = Run(target, out)
    seeds: list[bytes] = []

    @settings(max_examples=seeds_wanted, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(target.strategy)
    def generate(value):
        seeds.append(to_bytes(target.name, value))
        run.execute(value)

    generate()
    offset = JSON_TARGETS.get(target.name)
    documents, values, keys = [], [], []
    if offset is not None:
        for seed in seeds:
            try:
                documents.append((seed[:offset], json.loads(seed[offset:])))
            except ValueError:
                continue
            json_parts(documents[-1][1], values, keys)
    while run.executions < executions:
        if documents and keys and rng.random() < 0.5:
            prefix, document = rng.choice(documents)
            data = prefix + json.dumps(mutate_json(rng, document, values, keys)).encode()
        else:
            data = mutate(rng, rng.choice(seeds), seeds)
        try:
            value = from_bytes(target.name, data)
        except ValueError:
            run.executions += 1
            run.rejections += 1
            continue
        run.execute(value)
    return run


def mutation_baseline(rng: random.Random, seeds: list[bytes], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        mutate(rng, rng.choice(seeds), seeds)
    return (time.perf_counter() - started) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=1_000_000, help="total over all targets")
    parser.add_argument("--seeds", type=int, default=3000, help="Hypothesis-generated inputs per target")
    parser.add_argument("--targets", nargs="*", default=sorted(TARGETS))
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--no-record", action="store_true", help="print the result without appending it")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", "Duplicate name", UserWarning)  # the zip strategy repeats member names
    out = Path(tempfile.mkdtemp(prefix="crscan-fuzz-"))
    rng = random.Random(args.seed)
    share = -(-args.executions // len(args.targets))
    started = time.perf_counter()
    runs: list[Run] = []
    for name in args.targets:
        target_started = time.perf_counter()
        run = run_target(TARGETS[name], args.seeds, share, rng, out)
        runs.append(run)
        elapsed = time.perf_counter() - target_started
        print(f"{name}: {run.executions:,} executions in {elapsed:.0f} s ({run.executions / elapsed:,.0f}/s),"
              f" {run.rejections:,} rejected with the documented error, crashes: {dict(run.crashes) or 'none'}",
              flush=True)
    wall = time.perf_counter() - started
    total = sum(r.executions for r in runs)
    crashes = sum(sum(r.crashes.values()) for r in runs)
    kinds = sorted({f"{r.target.name}: {k}" for r in runs for k in r.crashes})
    per_execution = wall / total
    baseline = mutation_baseline(rng, [b"x" * 2048, b'{"id": "GHSA-x", "affected": []}'], 100_000)
    ratio = per_execution / baseline
    load = os.getloadavg()[0]
    line = (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} fuzz_long: {total:,} executions over {len(runs)} targets in {wall:.0f} s"
        f" ({total / wall:,.0f}/s), crashes {crashes}{' ' + '; '.join(kinds) if kinds else ''}"
        f" (target: >= 1,000,000 executions, 0 crashes) {'OK' if total >= 1_000_000 and not crashes else 'FAIL'};"
        f" per execution {per_execution * 1e6:.0f} us vs mutator alone {baseline * 1e6:.1f} us: ratio {ratio:.0f}"
        f" [seed {args.seed}, {args.seeds} Hypothesis seeds per target, load {load:.1f}, {platform.machine()},"
        f" {os.cpu_count()} cpus, python {platform.python_version()}]"
    )
    print(line)
    print(f"crash inputs (if any) in {out}")
    if not args.no_record:
        with RESULTS.open("a") as results:
            results.write(line + "\n")


if __name__ == "__main__":
    main()
