"""`crscan image …`: client verbs for a running crscan server over REST, named like `yc container image …`.

The endpoint and token come from `--endpoint`/`--token`, else `CRSCAN_ENDPOINT`/`CRSCAN_TOKEN`, else the profile
file (`~/.config/crscan/profile.toml`, or `$CRSCAN_PROFILE`) with keys `endpoint` and `token`. Output is the API's
own JSON objects (`--format json|yaml`) or a table of their main fields. Any failure is one line on stderr
(the server's message when it sent one) and exit status 2.
"""

from __future__ import annotations

import json
import os
import re
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import quote

import typer

from crscan.cli.interface import CliError

JsonObject = dict[str, Any]  # a decoded JSON object of the REST API

DEFAULT_PROFILE = Path("~/.config/crscan/profile.toml")
PROFILE_KEYS = ("endpoint", "token")
MAX_PAGE_SIZE = 1000  # the server's bound (crscan.api.listing.MAX_PAGE_SIZE)
MAX_POLL_INTERVAL = 5.0
SEVERITIES = ("critical", "high", "medium", "low", "negligible", "undefined")

app = typer.Typer(
    name="image",
    help="Query and scan images on a running crscan server (like `yc container image`).",
    no_args_is_help=True, rich_markup_mode=None,
)


class ClientError(CliError):
    """A request failed or the client is misconfigured; the message is the one line the user sees."""


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    yaml = "yaml"


def load_profile(path: Path) -> dict[str, str]:
    """The profile's `endpoint`/`token`; a missing file is an empty profile, a malformed one an error."""
    try:
        with open(path, "rb") as f:
            document = tomllib.load(f)
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise ClientError(f"profile {path} cannot be read: {e.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ClientError(f"profile {path} is not valid TOML: {e}") from None
    for key, value in document.items():
        if key not in PROFILE_KEYS:
            raise ClientError(f"profile {path}: unknown key {key!r} (known: {', '.join(PROFILE_KEYS)})")
        if not isinstance(value, str):
            raise ClientError(f"profile {path}: key {key!r} must be a string")
    return document


def connection(endpoint: str | None, token: str | None) -> tuple[str, str | None]:
    """The endpoint URL and token, from flags > environment > profile."""
    profile_path = Path(os.environ.get("CRSCAN_PROFILE") or DEFAULT_PROFILE).expanduser()
    profile = load_profile(profile_path)
    endpoint = endpoint or os.environ.get("CRSCAN_ENDPOINT") or profile.get("endpoint")
    token = token or os.environ.get("CRSCAN_TOKEN") or profile.get("token")
    if not endpoint:
        raise ClientError(f"no server endpoint: pass --endpoint URL, set CRSCAN_ENDPOINT or add endpoint to {profile_path}")
    if not endpoint.startswith(("http://", "https://")):
        raise ClientError(f"endpoint {endpoint!r} must be an http:// or https:// URL, e.g. http://localhost:8080")
    return endpoint.rstrip("/"), token


class ApiClient:
    """JSON over the REST transport; non-2xx answers become `ClientError` with the Status message."""

    def __init__(self, endpoint: str, token: str | None, *, timeout: float = 30.0):
        import httpx  # here, not at the top: `crscan --help` and the other verbs start without it

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.endpoint = endpoint
        self.has_token = bool(token)
        self._http = httpx.Client(base_url=endpoint, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, *, params: JsonObject | None = None, body: JsonObject | None = None) -> JsonObject:
        answer = self._send(method, path, params, body, absent_ok=False)
        assert answer is not None  # absent_ok=False: a 404 raised
        return answer

    def find(self, path: str) -> JsonObject | None:
        """GET `path`; None when the server answers 404 (NOT_FOUND)."""
        return self._send("GET", path, None, None, absent_ok=True)

    def _send(
        self, method: str, path: str, params: JsonObject | None, body: JsonObject | None, *, absent_ok: bool
    ) -> JsonObject | None:
        import httpx

        try:
            response = self._http.request(method, path, params=_present(params or {}), json=body)
        except httpx.HTTPError as e:
            raise ClientError(f"cannot reach {self.endpoint}: {e}") from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.is_success and isinstance(answer, dict):
            return answer
        if absent_ok and response.status_code == 404 and isinstance(answer, dict) and "code" in answer:
            return None
        if isinstance(answer, dict) and isinstance(answer.get("message"), str) and answer["message"]:
            hint = " (give one with --token or CRSCAN_TOKEN)" if response.status_code == 401 and not self.has_token else ""
            raise ClientError(answer["message"].splitlines()[0] + hint)
        raise ClientError(f"{method} {path}: HTTP {response.status_code} from {self.endpoint} without an API error body")

    def pages(self, path: str, params: JsonObject, items_key: str, limit: int | None) -> Iterator[JsonObject]:
        """Items across pages, following nextPageToken, at most `limit` (all when None)."""
        token, served, seen = "", 0, set()
        while True:
            page_size = min(limit - served, MAX_PAGE_SIZE) if limit is not None else 0
            answer = self.request("GET", path, params={**params, "pageSize": page_size or None, "pageToken": token})
            for item in answer.get(items_key, []):
                if limit is not None and served >= limit:
                    return
                served += 1
                yield item
            token = answer.get("nextPageToken", "")
            if not isinstance(token, str):
                raise ClientError(f"the server's nextPageToken is not a string: {token!r:.100}")
            if token in seen:  # a server that hands out the same page again would keep us here forever
                raise ClientError("the server repeated a page token; stopping instead of looping")
            seen.add(token)
            if not token or (limit is not None and served >= limit):
                return

    def wait(self, operation: JsonObject, timeout: float) -> JsonObject:
        """Poll `/operations/{id}` until done; returns the final operation."""
        deadline = time.monotonic() + timeout
        interval = 0.2
        while not operation.get("done"):
            if time.monotonic() > deadline:
                raise ClientError(f"operation {operation.get('id')} is not done after {timeout:g} s; "
                                  f"check later with its id, or use --async")
            time.sleep(interval)
            interval = min(interval * 2, MAX_POLL_INTERVAL)
            operation = self.request("GET", f"/operations/{_segment(operation['id'])}")
        return operation


# ---- output -------------------------------------------------------------------------------------------

Column = tuple[str, Callable[[JsonObject], str]]

IMAGE_COLUMNS: list[Column] = [
    ("ID", lambda i: i.get("id", "")),
    ("CREATED", lambda i: i.get("createdAt", "")),
    ("NAME", lambda i: i.get("name", "")),
    ("DIGEST", lambda i: i.get("digest", "")),
    ("COMPRESSED SIZE", lambda i: _size(i.get("compressedSize", "0"))),
    ("TAGS", lambda i: ", ".join(i.get("tags", []))),
]
SCAN_RESULT_COLUMNS: list[Column] = [
    ("ID", lambda r: r.get("id", "")),
    ("IMAGE", lambda r: r.get("imageId", "")),
    ("SCANNED AT", lambda r: r.get("scannedAt", "")),
    ("STATUS", lambda r: r.get("status", "")),
    ("VULNERABILITIES", lambda r: _counts(r.get("vulnerabilities", {}))),
]
VULNERABILITY_COLUMNS: list[Column] = [
    ("SEVERITY", lambda v: v.get("severity", "")),
    ("NAME", lambda v: v.get("package", {}).get("name", "")),
    ("PACKAGE", lambda v: v.get("package", {}).get("package", "")),
    ("VERSION", lambda v: v.get("package", {}).get("version", "")),
    ("FIXED BY", lambda v: v.get("package", {}).get("fixedBy", "")),
    ("SOURCE", lambda v: v.get("package", {}).get("source", "")),
    ("LINK", lambda v: v.get("package", {}).get("link", "")),
]
OPERATION_COLUMNS: list[Column] = [
    ("ID", lambda o: o.get("id", "")),
    ("DESCRIPTION", lambda o: o.get("description", "")),
    ("CREATED AT", lambda o: o.get("createdAt", "")),
    ("DONE", lambda o: "true" if o.get("done") else "false"),
]


def render(data: JsonObject | list[JsonObject], output: OutputFormat, columns: Sequence[Column]) -> str:
    """`data` as the API returned it (json, yaml) or as a table of `columns` (one row per object)."""
    if output is OutputFormat.json:
        return json.dumps(data, indent=2, ensure_ascii=False)
    if output is OutputFormat.yaml:
        import yaml

        text: str = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        return text.rstrip("\n")
    rows = [data] if isinstance(data, dict) else data
    return table([name for name, _ in columns], [[_cell(cell(row)) for _, cell in columns] for row in rows])


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A `yc`-style box of `+---+` rules and `| a | b |` rows."""
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(cells: Sequence[str]) -> str:
        return "|" + "|".join(f" {c.ljust(w)} " for c, w in zip(cells, widths)) + "|"

    return "\n".join([rule, line(headers), rule, *(line(row) for row in rows), rule])


def _cell(text: str) -> str:
    return " ".join(text.split())  # a newline or tab in server data must not break the table's shape


def _counts(stats: JsonObject) -> str:
    return ", ".join(f"{s}:{stats[s]}" for s in SEVERITIES if str(stats.get(s, "0")) != "0")


def _size(text: str) -> str:
    """compressedSize (an int64 string) in binary units."""
    if not str(text).isdigit():
        return str(text)
    value, unit = float(text), 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value /= 1024
        unit += 1
    return f"{int(value)} B" if unit == 0 else f"{value:.2f} {_UNITS[unit]}"


_UNITS = ("B", "KB", "MB", "GB", "TB")


def _present(params: JsonObject) -> JsonObject:
    return {k: v for k, v in params.items() if v not in (None, "")}


def _segment(value: str) -> str:
    """A path segment: every reserved character encoded, so an id cannot change the route."""
    return quote(value, safe="")


def _without_type(message: JsonObject) -> JsonObject:
    return {k: v for k, v in message.items() if k != "@type"}


# ---- verbs --------------------------------------------------------------------------------------------

ENDPOINT = typer.Option(None, "--endpoint", help="Server REST URL, e.g. http://localhost:8080 (env CRSCAN_ENDPOINT).")
TOKEN = typer.Option(None, "--token", help="Bearer token (env CRSCAN_TOKEN).")
FORMAT = typer.Option(OutputFormat.table, "--format", help="Output format.", case_sensitive=False)
LIMIT = typer.Option(None, "--limit", min=1, help="At most this many items (default: all pages).")
FILTER = typer.Option(None, "--filter", help='Server-side filter, e.g. status="READY" or severity="CRITICAL".')


def _run(endpoint: str | None, token: str | None, action: Callable[[ApiClient], str],
         flags: Mapping[str, str] | None = None) -> None:
    """Print what `action` makes of the server's answers. `flags` maps request fields (as REST messages name
    them) to this verb's options, so a server error says what to type: `folderId` → `--folder-id`."""
    client = ApiClient(*connection(endpoint, token))
    try:
        typer.echo(action(client))
    except ClientError as e:
        if not flags:
            raise
        raise ClientError(as_flags(str(e), flags)) from e
    except (AttributeError, KeyError, TypeError, ValueError) as e:  # an answer not shaped like the API's
        raise ClientError(f"unexpected answer from the server ({type(e).__name__}: {e})") from e
    finally:
        client.close()


def as_flags(message: str, flags: Mapping[str, str]) -> str:
    """`message` with each field name of `flags` (a whole word outside quotes) replaced by its option."""
    if not flags:
        return message
    names = re.compile(r"\b(" + "|".join(map(re.escape, flags)) + r")\b")
    parts = re.split(r"('[^']*'|\"[^\"]*\")", message)  # odd parts are quoted: the caller's or server's data
    return "".join(part if n % 2 else names.sub(lambda m: flags[m.group(1)], part) for n, part in enumerate(parts))


@app.command("list")
def list_images(
    repository_name: str = typer.Option(None, "--repository-name", help="Repository as <registry id>/<name>."),
    registry_id: str = typer.Option(None, "--registry-id", help="Images of every repository of a registry."),
    folder_id: str = typer.Option(None, "--folder-id", help="Images of every registry of a folder."),
    filter: str = FILTER,
    limit: int = LIMIT,
    endpoint: str = ENDPOINT,
    token: str = TOKEN,
    output: OutputFormat = FORMAT,
) -> None:
    """List images of a repository, registry or folder (none given: the server's only folder)."""
    params = {"repositoryName": repository_name, "registryId": registry_id, "folderId": folder_id, "filter": filter}
    _run(endpoint, token, lambda client: render(
        list(client.pages("/container-registry/v1/images", params, "images", limit)), output, IMAGE_COLUMNS),
        flags=IMAGE_LIST_FLAGS)


IMAGE_LIST_FLAGS = {"repositoryName": "--repository-name", "registryId": "--registry-id", "folderId": "--folder-id",
                    "filter": "--filter"}


@app.command("scan")
def scan(
    image_id: str = typer.Argument(..., metavar="ID", help="Image id."),
    run_async: bool = typer.Option(False, "--async", help="Print the operation and return without waiting."),
    timeout: float = typer.Option(3600.0, "--timeout", min=0, help="Seconds to wait for the scan to finish."),
    endpoint: str = ENDPOINT,
    token: str = TOKEN,
    output: OutputFormat = FORMAT,
) -> None:
    """Scan an image; waits for the result unless --async."""

    def action(client: ApiClient) -> str:
        operation = client.request("POST", "/container-registry/v1/scans", body={"imageId": image_id})
        if run_async:
            return render(operation, output, OPERATION_COLUMNS)
        operation = client.wait(operation, timeout)
        if "error" in operation:
            raise ClientError(f"scan failed: {operation['error'].get('message') or 'no message'}")
        return render(_without_type(operation.get("response", {})), output, SCAN_RESULT_COLUMNS)

    _run(endpoint, token, action)


@app.command("get-last-scan-result")
def get_last_scan_result(
    image_id: str = typer.Argument(..., metavar="ID", help="Image id."),
    endpoint: str = ENDPOINT,
    token: str = TOKEN,
    output: OutputFormat = FORMAT,
) -> None:
    """The image's most recent finished scan result."""
    _run(endpoint, token, lambda client: render(
        client.request("GET", f"/container-registry/v1/images/{_segment(image_id)}:lastScanResult"),
        output, SCAN_RESULT_COLUMNS))


@app.command("list-scan-results")
def list_scan_results(
    image_id: str = typer.Option(None, "--image-id", help="Scan results of this image."),
    repository_id: str = typer.Option(None, "--repository-id", help="Scan results of every image of a repository."),
    filter: str = FILTER,
    limit: int = LIMIT,
    endpoint: str = ENDPOINT,
    token: str = TOKEN,
    output: OutputFormat = FORMAT,
) -> None:
    """List scan results of an image or a repository, newest first."""
    if bool(image_id) == bool(repository_id):
        raise ClientError("give exactly one of --image-id and --repository-id")
    params = {"imageId": image_id, "repositoryId": repository_id, "filter": filter}
    _run(endpoint, token, lambda client: render(
        list(client.pages("/container-registry/v1/scans", params, "scanResults", limit)), output, SCAN_RESULT_COLUMNS))


@app.command("list-vulnerabilities")
def list_vulnerabilities(
    scan_result_id: str = typer.Option(..., "--scan-result-id", help="The scan result to list."),
    filter: str = FILTER,
    limit: int = LIMIT,
    endpoint: str = ENDPOINT,
    token: str = TOKEN,
    output: OutputFormat = FORMAT,
) -> None:
    """List the vulnerabilities a scan found, most severe first."""
    path = f"/container-registry/v1/scans/{_segment(scan_result_id)}:listVulnerabilities"
    _run(endpoint, token, lambda client: render(
        list(client.pages(path, {"filter": filter}, "vulnerabilities", limit)), output, VULNERABILITY_COLUMNS))
