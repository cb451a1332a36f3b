"""With token auth on, only /healthz and the static /docs page answer without a token; the other pages need any
valid token, which the /docs page asks for and sends when it fetches openapi.json."""

import json
import re
import subprocess

import pytest

from tests.ops.test_docs_page import DOM_SHIM, NODE

PAGES = ["/openapi.json"]


def get(auth_api, path, token):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return auth_api.http.get(path, headers=headers)


def test_liveness_and_the_docs_page_stay_public(auth_api):
    assert get(auth_api, "/healthz", None).status_code == 200
    assert get(auth_api, "/docs", None).status_code == 200


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("caller", ["none", "bad", "expired", "revoked"])
def test_pages_refuse_callers_without_a_valid_token(auth_api, path, caller):
    answer = get(auth_api, path, auth_api.world.tokens[caller])
    assert answer.status_code == 401
    assert answer.json()["code"] == 16


@pytest.mark.parametrize("path", PAGES)
def test_pages_answer_a_viewer(auth_api, path):
    assert get(auth_api, path, auth_api.world.tokens["viewer"]).status_code == 200


# The page's script in Node against the real server (Node's own fetch), the token typed into the form.
LIVE_SHIM = DOM_SHIM.replace("globalThis.fetch = url =>", "globalThis.unusedFetch = url =>").replace(
    "setTimeout(() => console.log(", "globalThis.report = () => console.log(").replace("})), 50);", "}));") + """
const realFetch = fetch;
globalThis.fetch = (url, options) => realFetch(BASE + "/" + url, options);
"""


def run_page(base: str, page: str, steps: str) -> dict:
    (script,) = re.findall(r"<script>(.*?)</script>", page, re.S)
    program = f"const BASE = {json.dumps(base)};\nconst DOCUMENT = null;\n{LIVE_SHIM}\n{script}\n{steps}"
    done = subprocess.run([NODE, "-e", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_with_auth_on_the_page_loads_and_fetches_openapi_with_the_token_it_was_given(auth_api):
    page = auth_api.http.get("/docs")  # no token: the page itself is public
    assert page.status_code == 200
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert auth_api.http.get("/openapi.json").status_code == 401  # the document is not
    viewer = auth_api.world.tokens["viewer"]
    wait = "await new Promise(r => setTimeout(r, 300));"
    steps = f"""(async () => {{
      {wait}
      const before = byId.error.textContent;
      byId.token.value = {json.dumps(viewer)};
      byId.auth.listeners.submit({{ preventDefault() {{}} }});
      {wait}
      const after = JSON.parse(JSON.stringify({{ error: byId.error.textContent, title: document.title,
        operations: text(byId.operations), stored: sessionStorage.getItem("crscan-api-token"),
        field: byId.token.value }}));
      byId.token.value = "crk0000000000000000.wrong";
      byId.auth.listeners.submit({{ preventDefault() {{}} }});
      {wait}
      console.log(JSON.stringify({{ before, after, refused: byId.error.textContent,
                                    emptied: text(byId.operations).trim() }}));
    }})();"""
    shown = run_page(auth_api.server.http_url, page.text, steps)
    assert shown["before"] == "this server needs an API token: enter one above"
    assert shown["after"]["error"] == "" and shown["after"]["title"]
    assert "/container-registry/v1/scans" in shown["after"]["operations"]
    assert shown["after"]["stored"] == viewer and shown["after"]["field"] == ""
    assert shown["refused"] == "the token was refused (HTTP 401): enter another one"
    assert shown["emptied"] == ""
