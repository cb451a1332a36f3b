"""Hostile HTTP input against the real servicers: every answer is a deliberate status, never a crash."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TEMPLATES = [
    "/container-registry/v1/scans",
    "/container-registry/v1/scans/{}",
    "/container-registry/v1/scans/{}:listVulnerabilities",
    "/container-registry/v1/images/{}:lastScanResult",
    "/container-registry/v1/images/{}",
    "/container-registry/v1/images",
    "/container-registry/v1/repositories/{}:byName",
    "/container-registry/v1/registries",
    "/operations/{}",
    "/operations/{}:cancel",
    "/endpoints/{}",
]
QUERY_NAMES = ["imageId", "image_id", "repositoryId", "pageSize", "page_size", "pageToken", "filter", "orderBy",
               "folderId", "registryId", "repositoryName", "x", "imageId.y"]  # fmt: skip

segments = st.one_of(
    st.text(min_size=1, max_size=60),
    st.sampled_from(["che", "crp" + "0" * 17, "a" * 51, "..", "%2F", "%", "%zz", ":", "\x00", "é"]),
)
queries = st.lists(st.tuples(st.sampled_from(QUERY_NAMES), st.text(max_size=120)), max_size=4)
bodies = st.one_of(
    st.none(),
    st.binary(max_size=200),
    st.dictionaries(st.sampled_from(["imageId", "image_id", "x"]), st.one_of(st.text(), st.integers(), st.none())),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    template=st.sampled_from(TEMPLATES),
    segment=segments,
    method=st.sampled_from(["GET", "POST", "DELETE", "PATCH"]),
    query=queries,
    body=bodies,
)
def test_hostile_requests_get_deliberate_answers(shared_api, template, segment, method, query, body):
    path = template.format(quote(segment, safe="%:"))
    request = shared_api.http.build_request(
        method,
        path,
        params=query,
        content=body if isinstance(body, bytes) else None,
        json=body if isinstance(body, dict) else None,
    )
    response = shared_api.http.send(request)

    assert response.status_code != 500, response.text
    if response.status_code != 200:
        error = response.json()
        assert set(error) == {"code", "message", "details"}
        assert error["message"]
