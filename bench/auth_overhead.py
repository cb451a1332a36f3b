"""Token auth's cost per request: REST GET of one registry with bearer-token checking vs the same server with
auth off (`--no-auth`), both in-process on one SQLite store holding 10,000 tokens.

Each authenticated request looks its token up by primary key and hashes the secret; the figure is the ratio of
the p50 latencies (target <= 1.5), alternating the two servers so load changes hit both alike. Appends one line
to bench/RESULTS.md.

    .venv/bin/python bench/auth_overhead.py [--samples 500] [--tokens 10000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from bench.harness import machine, p50_p99_ms, record, sqlite_store  # noqa: E402

from crscan.api.auth import AllowAll  # noqa: E402
from crscan.api.server import ApiServer  # noqa: E402
from crscan.api.servicers import build_servicers  # noqa: E402
from crscan.auth import Role, SqlTokenRepository, TokenAuthenticator, TokenService  # noqa: E402
from crscan.config import Settings  # noqa: E402
from crscan.store.tokens import ApiToken  # noqa: E402

TARGET = 1.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--tokens", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        store = sqlite_store(directory)
        registry = store.registries.add("bench", "registry.example", folder_id="b1gfolder")
        service = TokenService(SqlTokenRepository(store))
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        with store.sessions.begin() as session:  # filler rows; only their count matters
            session.add_all(
                ApiToken(id=f"crk{i:017d}", role=1, description="", secret_sha256=os.urandom(32), created_at=now)
                for i in range(args.tokens - 1)
            )
        secret = service.create(Role.VIEWER).secret
        path = f"/container-registry/v1/registries/{registry.id}"
        timings: dict[str, list[float]] = {"auth": [], "no-auth": []}
        servers = {}
        for name, authenticator in (("auth", TokenAuthenticator(service)), ("no-auth", AllowAll())):
            settings = Settings.resolve(
                {"data_dir": Path(directory) / name, "http_port": 0, "grpc_port": 0}, environ={}
            )
            servers[name] = ApiServer(settings, build_servicers(store), authenticator).start()
        try:
            clients = {name: httpx.Client(base_url=server.http_url) for name, server in servers.items()}
            headers = {"authorization": f"Bearer {secret}"}
            for name, client in clients.items():  # warm up connections and caches
                for _ in range(20):
                    assert client.get(path, headers=headers).status_code == 200
            for _ in range(args.samples):
                for name, client in clients.items():
                    start = time.perf_counter()
                    response = client.get(path, headers=headers)
                    timings[name].append(time.perf_counter() - start)
                    assert response.status_code == 200
        finally:
            for server in servers.values():
                server.stop(1)
            store.close()
    p50, p99 = p50_p99_ms(timings)
    ratio = p50["auth"] / p50["no-auth"]
    verdict = "OK" if ratio <= TARGET else "MISSED"
    record(
        f"auth_overhead: REST GET registry with a bearer token "
        f"({args.tokens} tokens stored) p50 {p50['auth']:.2f} ms p99 {p99['auth']:.2f} ms vs --no-auth p50 "
        f"{p50['no-auth']:.2f} ms p99 {p99['no-auth']:.2f} ms: ratio {ratio:.2f} (target <= {TARGET}) {verdict} "
        f"[{args.samples} samples each, alternated, SQLite, in-process servers, {machine()}]"
    )


if __name__ == "__main__":
    main()
