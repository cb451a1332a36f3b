"""Console sessions live in the database: a session made by one serving process is honoured by another — two
`crscan serve` replicas on one PostgreSQL, and the two processes of `crscan serve --workers 2` — and signing out
or revoking the token on one ends it on all. The table holds neither the cookie's session id nor the token."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import uuid
from collections.abc import Callable, Iterator
from typing import TypeVar

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.api.test_serve_cli import replica_pids, serve
from tests.auth.test_cli_and_serve import crscan
from tests.support.postgres import free_port

SESSION = "crscan_session"
T = TypeVar("T")


def sign_in(base_url: str, token: str, timeout: float = 30) -> str:
    """The session id a POST to /ui/signin on `base_url` set."""
    with httpx.Client(base_url=base_url, timeout=timeout) as client:
        form = client.get("/ui/signin")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        answer = client.post("/ui/signin", data={"csrf": csrf, "token": token})
    assert answer.status_code == 303, answer.text
    return answer.cookies[SESSION]


def page(base_url: str, session_id: str, path: str = "/ui/registries", timeout: float = 30) -> httpx.Response:
    return httpx.get(base_url + path, cookies={SESSION: session_id}, timeout=timeout, follow_redirects=False)


def csrf_of(base_url: str, session_id: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page(base_url, session_id).text).group(1)


def test_a_session_made_by_one_replica_is_honoured_by_another_on_one_postgresql(tmp_path, postgres):
    database_url = postgres.create_database("t_" + uuid.uuid4().hex[:16])
    token = crscan("token", "create", "--role", "viewer", "--database-url", database_url).stdout.strip()
    replicas = []
    try:
        for name in ("a", "b"):
            replicas.append(serve("--data-dir", str(tmp_path / name), "--database-url", database_url,
                                  "--http-port", str(free_port()), "--grpc-port", str(free_port())))
        a, b = (replica.rest_url for replica in replicas)
        first = sign_in(a, token)
        for base_url in (a, b):
            answer = page(base_url, first)
            assert answer.status_code == 200 and "Registries" in answer.text, base_url
        # Signing out on b ends the session on a.
        signed_out = httpx.post(b + "/ui/signout", cookies={SESSION: first}, data={"csrf": csrf_of(b, first)},
                                timeout=30, follow_redirects=False)
        assert signed_out.status_code == 303
        assert page(a, first).headers["location"].startswith("/ui/signin")
        # Revoking the token ends a session made on b at its next request on a, with the reason.
        second = sign_in(b, token)
        assert page(a, second).status_code == 200
        assert crscan("token", "revoke", token.partition(".")[0], "--database-url", database_url).returncode == 0
        ended = page(a, second)
        assert ended.status_code == 303 and ended.headers["location"].startswith("/ui/signin")
        assert "was%20revoked" in ended.headers["set-cookie"]
        assert page(b, second).status_code == 303  # and the row is gone for every process
        # What is stored: hashes and sealed tokens, never the cookie's id nor the token's secret.
        engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect() as connection:
            rows = connection.execute(text("select * from console_sessions")).all()
        engine.dispose()
        dumped = repr(rows)
        assert first not in dumped and second not in dumped and token.partition(".")[2] not in dumped
    finally:
        for replica in replicas:
            replica.stop(signal.SIGTERM)


@contextlib.contextmanager
def frozen(pid: int) -> Iterator[None]:
    """The process stopped (SIGSTOP): connections the kernel hands to it wait; the other process answers."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def by_the_other_process(call: Callable[[], T]) -> T:
    """`call()` (each on new connections, short timeouts) until one is not handed to the frozen process."""
    for _ in range(40):
        with contextlib.suppress(httpx.TimeoutException):
            return call()
    pytest.fail("no answer from the process that is not frozen in 40 tries")


def test_serve_workers_2_share_sessions_between_their_processes(tmp_path):
    data = str(tmp_path / "data")
    token = crscan("token", "create", "--role", "viewer", "--data-dir", data).stdout.strip()
    served = serve("--data-dir", data, "--http-port", "0", "--grpc-port", "0", "--workers", "2")
    (replica,) = replica_pids(served.process.pid)
    base_url = served.rest_url
    try:
        with frozen(replica):  # signed in through the first process (form and POST on one connection)…
            session_id = by_the_other_process(lambda: sign_in(base_url, token, timeout=2))
        with frozen(served.process.pid):  # …and honoured by the replica
            answer = by_the_other_process(lambda: page(base_url, session_id, timeout=2))
        assert answer.status_code == 200 and "Registries" in answer.text
    finally:
        served.stop(signal.SIGTERM)
