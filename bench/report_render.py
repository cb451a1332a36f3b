"""Rendering a big scan report must cost little next to serialising the same data at all.

    .venv/bin/python bench/report_render.py [--findings 20000] [--repeat 3]

Input: a ScanReport shaped like a large real image (2,000 packages across dpkg, pip and npm, 20,000 findings
with real-looking ids, links, layers and paths; bench/match.py finds ~19,000 on its 10,000 packages).
Baseline, measured in the same run: `json.dumps(dataclasses.asdict(report))`, the floor for turning those
dataclasses into text. Figure: each `crscan.report.render` format writing the same report to a StringIO,
as a ratio to that floor. Targets: the JSON format <= 3x the floor (it is that floor plus field renaming), and
CycloneDX <= 3x the JSON format (issue 17: it was ~60 s for 20,000 findings inside cyclonedx-python-lib); the
others are reported for comparison. Appends one line to bench/RESULTS.md with the machine's load.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from crscan.model import Distro, Ecosystem, Finding, LayerRef, Package, ScanReport, Severity
from crscan.report import FORMATS, render

HERE = Path(__file__).resolve().parent
TARGET_JSON_RATIO = 3.0
TARGET_CYCLONEDX_RATIO = 3.0  # against the JSON format, same report, same run
ECOSYSTEMS = (
    (Ecosystem.DPKG, "deb/debian", "/var/lib/dpkg/status", "os", "debian"),
    (Ecosystem.PYPI, "pypi", "/usr/local/lib/python3.11/site-packages/{name}-1.0.dist-info/METADATA", "lang", "python"),
    (Ecosystem.NPM, "npm", "/app/node_modules/{name}/package.json", "lang", "node"),
)


def big_report(n_packages: int, n_findings: int) -> ScanReport:
    layers = tuple(LayerRef("sha256:" + hashlib.sha256(b"l%d" % i).hexdigest(),
                            "sha256:" + hashlib.sha256(b"d%d" % i).hexdigest()) for i in range(8))
    packages = []
    for i in range(n_packages):
        ecosystem, purl_type, path, _, _ = ECOSYSTEMS[i % len(ECOSYSTEMS)]
        name = f"package-{i}"
        packages.append(Package(ecosystem, name, f"{i % 7}.{i % 13}.{i % 5}-1", purl=f"pkg:{purl_type}/{name}@1.0",
                                path=path.format(name=name), layer=layers[i % len(layers)]))
    findings = []
    for j in range(n_findings):
        package = packages[j % n_packages]
        _, _, _, origin, type_ = ECOSYSTEMS[(j % n_packages) % len(ECOSYSTEMS)]
        cve = f"CVE-20{10 + j % 15}-{10000 + j}"
        findings.append(Finding(
            name=cve, advisory_id=f"GHSA-{j:04x}-abcd-efgh", link=f"https://github.com/advisories/GHSA-{j:04x}",
            package=package.name, source=package.ecosystem.value, version=package.version,
            fixed_by="" if j % 4 == 0 else "9.9.9", origin=origin, type=type_, severity=Severity(1 + j % 6),
            severity_source="ghsa", feed="osv", layer=package.layer, path=package.path))
    return ScanReport(image="registry.example.com/big/app:1", digest="sha256:" + "ab" * 32,
                      distro=Distro("debian", "12", "bookworm", "Debian GNU/Linux 12 (bookworm)"),
                      packages=tuple(packages), findings=tuple(findings), feed_build_id="bench", layers=layers)


def best_of(repeat: int, action) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=2000)
    parser.add_argument("--findings", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    report = big_report(args.packages, args.findings)
    floor = best_of(args.repeat, lambda: json.dumps(dataclasses.asdict(report), default=str))
    seconds = {fmt: best_of(args.repeat, lambda fmt=fmt: render(report, fmt, io.StringIO(), color=False))
               for fmt in FORMATS}
    ratios = {fmt: s / floor for fmt, s in seconds.items()}
    cyclonedx_ratio = seconds["cyclonedx"] / seconds["json"]
    ok = ratios["json"] <= TARGET_JSON_RATIO and cyclonedx_ratio <= TARGET_CYCLONEDX_RATIO
    verdict = "OK" if ok else "MISSED"
    figures = ", ".join(f"{fmt} {seconds[fmt]:.2f} s ({ratios[fmt]:.1f}x)" for fmt in FORMATS)
    line = (f"{datetime.now(UTC):%Y-%m-%d %H:%M} report_render: {args.findings} findings / {args.packages} packages: "
            f"{figures} vs json.dumps(asdict) floor {floor:.2f} s; json ratio {ratios['json']:.2f} "
            f"(target <= {TARGET_JSON_RATIO}), cyclonedx / json format {cyclonedx_ratio:.2f} "
            f"(target <= {TARGET_CYCLONEDX_RATIO}) {verdict} [best of {args.repeat}, {platform.machine()}, "
            f"{os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}, python {platform.python_version()}]")
    print(line)
    with open(HERE / "RESULTS.md", "a", encoding="utf-8") as results:
        results.write(line + "\n")
    sys.exit(0 if verdict == "OK" else 1)


if __name__ == "__main__":
    main()
