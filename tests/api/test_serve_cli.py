"""`crscan serve` as a real subprocess: both transports answer, configuration from flags or environment, clean exit."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yandexcloud
from yandex.cloud.containerregistry.v1 import registry_service_pb2, registry_service_pb2_grpc

from tests.support.postgres import free_port

CRSCAN = Path(sys.executable).parent / "crscan"
STARTUP_SECONDS = 60


class Served:
    def __init__(self, process: subprocess.Popen, lines: list[str], rest: queue.Queue,
                 errors: queue.Queue | None = None):
        self.process = process
        self.lines = lines
        self._rest = rest
        self._errors = errors

    @property
    def rest_url(self) -> str:
        return self._find(r"REST listening on (\S+)")

    @property
    def grpc_address(self) -> str:
        return self._find(r"advertised as (\S+)")

    @property
    def ca_file(self) -> Path:
        return Path(self._find(r"CA certificate for gRPC clients: (\S+)"))

    def _find(self, pattern: str) -> str:
        for line in self.lines:
            if match := re.search(pattern, line):
                return match.group(1)
        raise AssertionError(f"{pattern!r} not in output: {self.lines}")

    def stop(self, signum: int) -> tuple[int, str]:
        self.process.send_signal(signum)
        try:
            code = self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError("crscan serve did not exit within 20 s of the signal") from None
        return code, "".join(iter(self._rest.get, None))

    def stderr_text(self) -> str:
        """Everything the process wrote to stderr (call after stop: the pump thread owns the pipe until EOF)."""
        assert self._errors is not None, "this process's stderr was not piped to the test"
        return "".join(iter(self._errors.get, None))


def serve(*args: str, env: dict[str, str] | None = None, log_level: str = "warning",
          stderr_to: Path | None = None) -> Served:
    """Start `crscan serve` and wait until it printed its addresses (or died). Its stderr (the log) goes to the
    file `stderr_to` when given (a long run at info level: read it while the server runs), else to
    `Served.stderr_text()`."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CRSCAN_")} | (env or {})
    # No feed DB build in the background (from upstream, unreachable here) unless the test asks for one.
    environ.setdefault("CRSCAN_FEEDS_UPDATE_HOURS", "0")
    with contextlib.ExitStack() as files:
        process = subprocess.Popen(
            [str(CRSCAN), "serve", "--log-level", log_level, *args],
            stdout=subprocess.PIPE,
            stderr=files.enter_context(stderr_to.open("w")) if stderr_to else subprocess.PIPE,
            text=True,
            env=environ,
        )
    lines: queue.Queue[str | None] = queue.Queue()
    # A thread reads stdout: select() on a buffered text pipe misses lines already in Python's buffer.
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    # stderr is drained too: a full pipe nobody reads would block the server's logging, and so its exit.
    errors: queue.Queue[str | None] | None = None
    if stderr_to is None:
        errors = queue.Queue()
        threading.Thread(target=_pump, args=(process.stderr, errors), daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        if line is None:
            break
        seen.append(line)
        if line.startswith("REST listening on"):
            return Served(process, seen, lines, errors)
    process.kill()
    process.wait()
    logged = stderr_to.read_text() if stderr_to else "".join(iter(errors.get, None))
    raise AssertionError(f"crscan serve did not start: {seen} {logged}")


def _pump(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def assert_both_transports_answer(served: Served) -> None:
    assert httpx.get(served.rest_url + "/healthz").json() == {"status": "ok"}
    over_rest = httpx.get(served.rest_url + "/container-registry/v1/registries", params={"folderId": "b1gf"})
    assert over_rest.status_code == 200 and over_rest.json() == {}

    sdk = yandexcloud.SDK(
        endpoint=served.grpc_address, iam_token="t1.cli", root_certificates=served.ca_file.read_bytes()
    )
    registries = sdk.client(registry_service_pb2_grpc.RegistryServiceStub)
    listed = registries.List(registry_service_pb2.ListRegistriesRequest(folder_id="b1gf"), timeout=10)
    assert list(listed.registries) == []


def test_serve_with_flags_answers_both_transports_and_exits_on_sigterm(tmp_path):
    data_dir = tmp_path / "data"
    http_port, grpc_port = free_port(), free_port()

    served = serve(
        "--data-dir", str(data_dir), "--http-port", str(http_port), "--grpc-port", str(grpc_port), "--no-auth"
    )

    assert served.rest_url == f"http://localhost:{http_port}"
    assert served.grpc_address == f"localhost:{grpc_port}"
    assert served.ca_file == data_dir / "tls" / "ca.pem"
    assert (data_dir / "crscan.db").is_file()  # default database, migrated at start
    assert_both_transports_answer(served)
    code, rest_of_output = served.stop(signal.SIGTERM)
    assert code == 0
    assert "stopped" in rest_of_output
    for port in (http_port, grpc_port):  # both listeners are gone
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0


def test_serve_from_environment_on_postgresql_stops_on_sigint(tmp_path, postgres):
    database_url = postgres.create_database("t_" + uuid.uuid4().hex[:16])
    env = {
        "CRSCAN_DATA_DIR": str(tmp_path / "env-data"),
        "CRSCAN_HTTP_PORT": str(free_port()),
        "CRSCAN_GRPC_PORT": str(free_port()),
        "CRSCAN_DATABASE_URL": database_url,
    }

    served = serve("--no-auth", env=env)

    assert served.rest_url.endswith(f":{env['CRSCAN_HTTP_PORT']}")
    assert served.grpc_address.endswith(f":{env['CRSCAN_GRPC_PORT']}")
    assert not (tmp_path / "env-data" / "crscan.db").exists()
    assert_both_transports_answer(served)
    assert served.stop(signal.SIGINT)[0] == 0


def replica_pids(parent: int) -> list[int]:
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [int(pid) for pid in children if "--replica" in Path(f"/proc/{pid}/cmdline").read_text()]


def test_serve_workers_share_both_ports_and_stop_together(tmp_path):
    served = serve("--data-dir", str(tmp_path / "data"), "--http-port", "0", "--grpc-port", "0", "--no-auth",
                   "--workers", "2")
    assert "2 processes serve both ports" in "".join(served.lines)
    (replica,) = replica_pids(served.process.pid)
    assert_both_transports_answer(served)
    # With the first process frozen, new connections the kernel hands to the replica are still answered.
    served.process.send_signal(signal.SIGSTOP)
    try:
        answered = 0
        for _ in range(20):
            with contextlib.suppress(httpx.TimeoutException):  # a connection the frozen process was handed
                answered += httpx.get(served.rest_url + "/healthz", timeout=1).status_code == 200
    finally:
        served.process.send_signal(signal.SIGCONT)
    assert answered > 0
    code, rest_of_output = served.stop(signal.SIGTERM)
    assert code == 0 and "stopped" in rest_of_output
    assert _exited(replica)


def _exited(pid: int) -> bool:
    """Gone, or a zombie its (new) parent has not reaped yet."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_workers_replica_stops_when_the_first_process_is_killed(tmp_path):
    served = serve("--data-dir", str(tmp_path / "data"), "--http-port", "0", "--grpc-port", "0", "--no-auth",
                   "--workers", "2")
    (replica,) = replica_pids(served.process.pid)
    served.process.kill()  # no chance to stop its replica: the replica must notice on its own
    served.process.wait()
    deadline = time.monotonic() + 15
    while not (gone := _exited(replica)) and time.monotonic() < deadline:
        time.sleep(0.2)
    if not gone:
        os.kill(replica, signal.SIGKILL)
    assert gone, "the replica outlived the killed first process"


def test_serve_reports_a_busy_grpc_port_in_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [str(CRSCAN), "serve", "--data-dir", str(tmp_path), "--http-port", "0", "--grpc-port", str(port),
             "--no-auth", "--log-level", "error"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"cannot listen for gRPC on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_reports_a_busy_port_in_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [str(CRSCAN), "serve", "--data-dir", str(tmp_path), "--http-port", str(port), "--grpc-port", "0",
             "--no-auth", "--log-level", "error"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"cannot listen for HTTP on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("bad", [["--http-port", "eighty"], ["--tls-cert", "/nonexistent.pem"]])
def test_serve_rejects_bad_options_without_a_traceback(tmp_path, bad):
    result = subprocess.run(
        [str(CRSCAN), "serve", "--data-dir", str(tmp_path), "--no-auth", *bad],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert bad[0].lstrip("-").split("-")[0] in result.stderr


def test_serve_reports_an_unusable_database_in_one_line(tmp_path):
    result = subprocess.run(
        [str(CRSCAN), "serve", "--data-dir", str(tmp_path), "--no-auth", "--http-port", "0", "--grpc-port", "0",
         "--database-url", f"sqlite:///{tmp_path}/missing/dir/crscan.db"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"cannot open the database {tmp_path}/missing/dir/crscan.db" in result.stderr
    assert "Traceback" not in result.stderr
