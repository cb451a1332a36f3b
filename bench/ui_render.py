"""Server time of the console's image page for an image with 2,000 findings, vs the JSON API for the same findings.

One in-process `ApiServer` with the console mounted at /ui, token auth on, SQLite. The image has a previous run
(so the page computes new/fixed), three layers, and 2,000 findings over several severities, ecosystems and
packages. Timed, alternating: GET /ui/images/ID as a signed-in viewer (every finding loaded, filtered, counted and
diffed; the first table page rendered), and the baseline: ListVulnerabilities over REST for all 2,000 findings
(pageSize 1000, two calls following the page token). Target: page p99 <= 150 ms. The CPU time per request
(client and server, both in this process) is printed too: it holds still when other work loads the machine.
Appends one line to bench/RESULTS.md.

    .venv/bin/python bench/ui_render.py [--samples 200] [--findings 2000]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))  # bench.harness

import httpx  # noqa: E402
from bench.harness import machine, p50_p99_ms, record, sqlite_store  # noqa: E402

from crscan.api.server import ApiServer  # noqa: E402
from crscan.api.servicers import build_servicers  # noqa: E402
from crscan.auth import Role, SqlTokenRepository, TokenAuthenticator, TokenService  # noqa: E402
from crscan.cli.startup import settle_heap  # noqa: E402
from crscan.config import Settings  # noqa: E402
from crscan.console import PREFIX, console_app  # noqa: E402
from crscan.model import Finding, LayerRef, Severity  # noqa: E402
from crscan.store import Layer, Store  # noqa: E402

TARGET_MS = 150.0
SEVERITIES = (Severity.CRITICAL, Severity.HIGH, Severity.HIGH, Severity.MEDIUM, Severity.MEDIUM, Severity.LOW,
              Severity.NEGLIGIBLE, Severity.UNDEFINED)
ECOSYSTEMS = (("dpkg", "os", "debian"), ("pip", "lang", "python"), ("npm", "lang", "node"), ("go", "lang", "gobinary"))


def findings(count: int, layers: list[str], offset: int = 0) -> list[Finding]:
    made = []
    for n in range(offset, offset + count):
        source, origin, kind = ECOSYSTEMS[n % len(ECOSYSTEMS)]
        name = f"CVE-2024-{n:05d}"
        made.append(Finding(
            name=name, advisory_id=name, link=f"https://security-tracker.debian.org/tracker/{name}",
            package=f"package-{n % 300}", source=source, version=f"1.{n % 17}.{n % 5}",
            fixed_by=f"1.{n % 17}.{n % 5 + 1}" if n % 3 else "", origin=origin, type=kind,
            severity=SEVERITIES[n % len(SEVERITIES)], severity_source="debian",
            layer=LayerRef(layers[n % len(layers)], ""), path=f"/usr/lib/{kind}/package-{n % 300}/METADATA",
        ))
    return made


def seed(store: Store, count: int) -> tuple[str, str]:
    registry = store.registries.add("bench", "registry.example", folder_id="default")
    repository = store.repositories.add(registry.id, "team/big")
    layer_digests = [f"sha256:{str(i) * 64}" for i in range(1, 4)]
    image = store.images.add(repository.id, "sha256:" + "ab" * 32, tags=["1.0"],
                            layers=[Layer(digest, 50_000_000) for digest in layer_digests])
    scan_result_id = ""
    for run, offset in enumerate((count // 20, 0)):  # the older run lacks the newest 5% and has 5% since fixed
        operation = store.scans.start(image.id)
        scan_result_id = store.operations.get(operation.id).resource_id
        found = findings(count, layer_digests, offset)
        counts: dict[Severity, int] = {}
        for finding in found:
            counts[finding.severity] = counts.get(finding.severity, 0) + 1
        store.scans.finish(scan_result_id, found, counts, f"build-{run}", [])
    return image.id, scan_result_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--findings", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        store = sqlite_store(directory)
        image_id, scan_result_id = seed(store, args.findings)
        tokens = TokenService(SqlTokenRepository(store))
        secret = tokens.create(Role.VIEWER).secret
        authenticator = TokenAuthenticator(tokens)
        settings = Settings.resolve({"data_dir": Path(directory), "http_port": 0, "grpc_port": 0}, environ={})
        servicers = build_servicers(store)
        server = ApiServer(settings, servicers, authenticator,
                           mounts={PREFIX: console_app(servicers, authenticator, store, None)}).start()
        settle_heap()  # as `crscan serve` does once it listens
        try:
            with httpx.Client(base_url=server.http_url, timeout=30) as client:
                sign_in = client.get(f"{PREFIX}/signin")
                csrf = re.search(r'name="csrf" value="([^"]+)"', sign_in.text).group(1)
                signed_in = client.post(f"{PREFIX}/signin", data={"csrf": csrf, "token": secret}, follow_redirects=True)
                assert signed_in.status_code == 200 and "Overview" in signed_in.text, signed_in.text[:500]
                headers = {"authorization": f"Bearer {secret}"}
                api_path = f"/container-registry/v1/scans/{scan_result_id}:listVulnerabilities"

                def page() -> None:
                    response = client.get(f"{PREFIX}/images/{image_id}")
                    assert response.status_code == 200 and f"of {args.findings} findings" in response.text

                def api() -> None:
                    got, token = 0, ""
                    while True:
                        params = {"pageSize": 1000} | ({"pageToken": token} if token else {})
                        body = client.get(api_path, params=params, headers=headers).json()
                        got += len(body["vulnerabilities"])
                        token = body.get("nextPageToken", "")
                        if not token:
                            break
                    assert got == args.findings

                timings: dict[str, list[float]] = {"page": [], "api": []}
                cpu: dict[str, list[float]] = {"page": [], "api": []}  # this process: server and client, alike
                runs = {"page": page, "api": api}
                for run in runs.values():  # warm up connections, caches and templates
                    for _ in range(5):
                        run()
                for _ in range(args.samples):
                    for name, run in runs.items():
                        start, start_cpu = time.perf_counter(), time.process_time()
                        run()
                        timings[name].append(time.perf_counter() - start)
                        cpu[name].append(time.process_time() - start_cpu)
        finally:
            server.stop(1)
            store.close()
    p50, p99 = p50_p99_ms(timings)
    cpu_p50, _ = p50_p99_ms(cpu)
    ratio = p99["page"] / p99["api"]
    verdict = "OK" if p99["page"] <= TARGET_MS else "MISSED"
    record(
        f"ui_render: console image page with {args.findings} "
        f"findings (2 runs, new/fixed, first 250 rows rendered) p50 {p50['page']:.1f} ms p99 {p99['page']:.1f} ms "
        f"(target <= {TARGET_MS:.0f}) {verdict}; vs the JSON API for the same findings (ListVulnerabilities, "
        f"2 pages of 1000) p50 {p50['api']:.1f} ms p99 {p99['api']:.1f} ms: ratio {ratio:.2f}; CPU per request "
        f"(p50) page {cpu_p50['page']:.1f} ms, API {cpu_p50['api']:.1f} ms "
        f"[{args.samples} samples each, alternated, SQLite, token auth, in-process server, {machine()}]"
    )


if __name__ == "__main__":
    main()
