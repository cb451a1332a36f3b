"""ScannerService.List semantics (issue 2, item 5) through both transports on both databases, plus a
Hypothesis property: concatenated pages equal the ordered, filtered set, even with inserts between pages."""

from __future__ import annotations

import datetime as dt
import random
import uuid

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yandex.cloud.containerregistry.v1 import scanner_pb2
from yandex.cloud.containerregistry.v1 import scanner_service_pb2 as ss

from crscan.api.auth import AllowAll, authenticated
from crscan.api.errors import ApiError
from crscan.api.messages import OPERATION_CODEC
from crscan.api.servicers import ScannerServicer
from crscan.store import Store, schema
from tests.store.clients import client, fails, served  # noqa: F401  (fixtures)
from tests.store.seeding import add_image, insert_scan_results

INVALID, NOT_FOUND = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND
STATUSES = {"RUNNING": 1, "READY": 2, "ERROR": 3}
LEVELS = schema.SEVERITY_COLUMNS
T0 = dt.datetime(2026, 3, 1, 12, 0, 0)


def random_rows(rng: random.Random, count: int, running: int = 1) -> list[dict]:
    """Rows with deliberate ties in every sort key, so the id tiebreaker matters; at most one RUNNING, as the
    database allows one running scan per image (`running=0` for rows added to an image that may have one)."""
    rows = [
        {
            "status": rng.choice([1, 2, 3]),
            "scanned_at": T0 + dt.timedelta(seconds=rng.randrange(5), microseconds=rng.choice([0, 1, 999_999])),
            **{level: rng.randrange(3) for level in LEVELS},
        }
        for _ in range(count)
    ]
    for row in [r for r in rows if r["status"] == 1][running:]:
        row["status"] = rng.choice([2, 3])
    return rows


def expected_order(rows: list[dict], order_by: str, status: int | None) -> list[str]:
    """The ordering issue 2 specifies, computed independently of the store."""
    rows = [r for r in rows if status is None or r["status"] == status]
    words = order_by.split()
    field = words[0] if words else "default"
    descending = words[1:] == ["desc"]
    if field == "default":
        return [r["id"] for r in sorted(rows, key=lambda r: (r["scanned_at"], r["id"]), reverse=True)]
    if field in ("scannedAt", "scanned_at"):
        return [r["id"] for r in sorted(rows, key=lambda r: (r["scanned_at"], r["id"]), reverse=descending)]
    if field == "status":
        return [r["id"] for r in sorted(rows, key=lambda r: (r["status"], r["id"]), reverse=descending)]
    assert field == "vulnerabilities"
    return [r["id"] for r in sorted(rows, key=lambda r: (*(r[level] for level in LEVELS), r["id"]), reverse=True)]


def seed(store: Store, rows: list[dict], image=None):
    image = image or add_image(store)
    for row, row_id in zip(rows, insert_scan_results(store, image, rows)):
        row["id"] = row_id
    return image


def walk(call, page_size: int, between_pages=None, **scope) -> list[str]:
    seen, token = [], ""
    while True:
        response = call(ss.ListScanResultsRequest(page_size=page_size, page_token=token, **scope))
        assert len(response.scan_results) <= page_size
        assert response.next_page_token == "" or len(response.scan_results) == page_size
        seen += [r.id for r in response.scan_results]
        token = response.next_page_token
        if not token:
            return seen
        assert len(token) <= 100
        if between_pages:
            between_pages()


# ---- through the servers ------------------------------------------------------------------------------


@pytest.fixture
def listed(served):
    """An image with 23 scan results with ties in every key, and a second image in the same repository."""
    rows = random_rows(random.Random(7), 23)
    image = seed(served.store, rows)
    sibling = served.store.images.add(image.repository_id, f"sha256:{uuid.uuid4().hex * 2}")
    sibling_rows = random_rows(random.Random(8), 5)
    seed(served.store, sibling_rows, sibling)
    return image, rows, sibling_rows


ORDERS = ["", "scannedAt", "scanned_at asc", "scannedAt desc", "status", "status desc", "vulnerabilities"]
FILTERS = [("", None), ('status="READY"', 2), (' status =  "ERROR" ', 3), ('status="RUNNING"', 1),
           ('status="STATUS_UNSPECIFIED"', 0)]


@pytest.mark.parametrize("order_by", ORDERS)
@pytest.mark.parametrize("filter_text, status", FILTERS[:3])
def test_pages_concatenate_to_the_ordered_filtered_set(client, listed, order_by, filter_text, status):
    image, rows, _ = listed
    call = lambda request: client("scanner", "List", request)  # noqa: E731
    assert walk(call, 4, image_id=image.id, order_by=order_by, filter=filter_text) == expected_order(
        rows, order_by, status
    )


@pytest.mark.parametrize("filter_text, status", FILTERS)
def test_listing_by_repository_covers_every_image_in_it(client, listed, filter_text, status):
    image, rows, sibling_rows = listed
    call = lambda request: client("scanner", "List", request)  # noqa: E731
    got = walk(call, 1000, repository_id=image.repository_id, filter=filter_text)
    assert got == expected_order(rows + sibling_rows, "", status)


def test_scan_results_carry_their_fields(client, listed):
    image, rows, _ = listed
    response = client("scanner", "List", ss.ListScanResultsRequest(image_id=image.id, page_size=1000))
    by_id = {row["id"]: row for row in rows}
    for result in response.scan_results:
        row = by_id[result.id]
        assert result.image_id == image.id and result.status == row["status"]
        assert [getattr(result.vulnerabilities, level) for level in LEVELS] == [row[level] for level in LEVELS]
        if row["status"] == 1:
            assert not result.HasField("scanned_at")
        else:
            assert result.scanned_at.ToDatetime() == row["scanned_at"]


def test_page_size_zero_means_one_hundred_and_last_page_has_no_token(client, served):
    image = seed(served.store, random_rows(random.Random(1), 150))
    first = client("scanner", "List", ss.ListScanResultsRequest(image_id=image.id))
    assert len(first.scan_results) == 100 and first.next_page_token
    second = client("scanner", "List", ss.ListScanResultsRequest(image_id=image.id, page_token=first.next_page_token))
    assert len(second.scan_results) == 50 and second.next_page_token == ""
    exact = client("scanner", "List", ss.ListScanResultsRequest(image_id=image.id, page_size=150))
    assert len(exact.scan_results) == 150 and exact.next_page_token == ""  # no empty trailing page
    full = client("scanner", "List", ss.ListScanResultsRequest(image_id=image.id, page_size=1000))
    assert len(full.scan_results) == 150 and full.next_page_token == ""


def test_inserts_while_walking_cause_no_duplicates_or_gaps(client, served):
    rows = random_rows(random.Random(3), 30)
    image = seed(served.store, rows)
    rng = random.Random(4)
    call = lambda request: client("scanner", "List", request)  # noqa: E731
    for order_by in ("", "scannedAt", "vulnerabilities"):
        before = {row["id"] for row in rows}
        seen = walk(call, 4, lambda: seed(served.store, random_rows(rng, 3, running=0), image), image_id=image.id,
                    order_by=order_by)
        assert len(seen) == len(set(seen))
        assert before <= set(seen)
        assert [i for i in seen if i in before] == expected_order(rows, order_by, None)


def test_exactly_one_scope_is_required(client, listed):
    image = listed[0]
    # Both at once cannot be sent over gRPC: the two fields are a proto oneof (see the REST test below).
    fails(lambda: client("scanner", "List", ss.ListScanResultsRequest()), INVALID,
          "exactly one of image_id and repository_id")
    fails(lambda: client("scanner", "List", ss.ListScanResultsRequest(image_id="x" * 51)), INVALID, "image_id")
    fails(lambda: client("scanner", "List", ss.ListScanResultsRequest(repository_id="Bad-Id")), INVALID,
          "repository_id is malformed")
    fails(lambda: client("scanner", "List", ss.ListScanResultsRequest(image_id="crp000")), NOT_FOUND,
          "image crp000 not found")
    fails(lambda: client("scanner", "List", ss.ListScanResultsRequest(repository_id="crt000")), NOT_FOUND,
          "repository crt000 not found")


def test_rest_with_both_image_and_repository_is_rejected(served, listed):
    image = listed[0]
    response = served.http.get(
        "/container-registry/v1/scans", params={"imageId": image.id, "repositoryId": image.repository_id}
    )
    assert response.status_code == 400
    assert "imageId" in response.json()["message"] or "image_id" in response.json()["message"]


@pytest.mark.parametrize(
    "field, value, fragments",
    [
        ("page_size", -1, ["page_size must be between 0 and 1000, got -1"]),
        ("page_size", 1001, ["page_size must be between 0 and 1000, got 1001"]),
        ("filter", 'status="DONE"', ["invalid value 'DONE' for status", "READY"]),
        ("filter", 'state="READY"', ["unknown field 'state'", "status"]),
        ("filter", "status=READY", ["value of status must be in double quotes"]),
        ("filter", 'status!="READY"', ["unsupported operator '!='"]),
        ("filter", 'status="READY', ["no closing double quote"]),
        ("filter", 'status="READY" OR status="ERROR"', ["expected AND"]),
        ("filter", "status", ["status has no condition"]),
        ("order_by", "createdAt", ["unknown field 'createdAt'", "scannedAt"]),
        ("order_by", "status upward", ["direction must be asc or desc"]),
        ("order_by", "status, scannedAt", ["several fields"]),
        ("order_by", "vulnerabilities asc", ["vulnerabilities takes no direction"]),
        ("order_by", "scannedAt desc extra", ["unexpected 'extra'"]),
        ("page_token", "x" * 101, ["page_token is too long"]),
        ("page_token", "AAAA", ["page_token is not valid"]),
        ("page_token", "%%%", ["page_token"]),
    ],
)
def test_bad_arguments_are_rejected_with_the_part_named(client, listed, field, value, fragments):
    request = ss.ListScanResultsRequest(image_id=listed[0].id, **{field: value})
    fails(lambda: client("scanner", "List", request), INVALID, *fragments)


def test_tokens_are_tamper_evident_and_bound_to_their_request(client, listed):
    image = listed[0]
    token = client("scanner", "List", ss.ListScanResultsRequest(image_id=image.id, page_size=2)).next_page_token
    flipped = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    other_requests = [
        dict(image_id=image.id, page_token=flipped),
        dict(image_id=image.id, page_token=token, order_by="status"),
        dict(image_id=image.id, page_token=token, filter='status="READY"'),
        dict(repository_id=image.repository_id, page_token=token),
    ]
    for fields in other_requests:
        fails(lambda: client("scanner", "List", ss.ListScanResultsRequest(page_size=2, **fields)), INVALID,
              "page_token is not valid for this request")
    again = client("scanner", "List", ss.ListScanResultsRequest(image_id=image.id, page_size=5, page_token=token))
    assert len(again.scan_results) == 5  # the page size may change between pages; the token stays valid


# ---- property: the servicer directly, many examples ------------------------------------------------------


@pytest.fixture(scope="module")
def sqlite_scanner(tmp_path_factory):
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('paging') / 'crscan.db'}", OPERATION_CODEC)
    store.migrate()
    yield ScannerServicer(store)
    store.close()


@pytest.fixture(scope="module")
def postgres_scanner(postgres):
    store = Store(postgres.create_database("p_" + uuid.uuid4().hex[:16]), OPERATION_CODEC)
    store.migrate()
    yield ScannerServicer(store)
    store.close()


cases = st.tuples(
    st.integers(0, 40),  # rows
    st.integers(1, 9),  # page size
    st.sampled_from(ORDERS),
    st.sampled_from(FILTERS),
    st.integers(0, 4),  # rows inserted after each page
    st.randoms(use_true_random=False),
)


def list_as_anonymous(scanner: ScannerServicer, request):
    """Call List the way the transports do with auth off: inside the auth hook, which records the caller."""
    with authenticated(AllowAll(), "/yandex.cloud.containerregistry.v1.ScannerService/List", "test", []):
        return scanner.List(request, None)


def check_paging(scanner: ScannerServicer, case) -> None:
    count, page_size, order_by, (filter_text, status), inserts, rng = case
    rows = random_rows(rng, count)
    image = seed(scanner.store, rows)
    call = lambda request: list_as_anonymous(scanner, request)  # noqa: E731
    between = (lambda: seed(scanner.store, random_rows(rng, inserts, running=0), image)) if inserts else None
    seen = walk(call, page_size, between, image_id=image.id, order_by=order_by, filter=filter_text)
    initial = set(expected_order(rows, "", status))
    assert len(seen) == len(set(seen)), "a row was returned twice"
    assert [i for i in seen if i in initial] == expected_order(rows, order_by, status)
    if not inserts:
        assert seen == expected_order(rows, order_by, status)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=cases)
def test_paging_property_sqlite(sqlite_scanner, case):
    check_paging(sqlite_scanner, case)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=cases)
def test_paging_property_postgresql(postgres_scanner, case):
    check_paging(postgres_scanner, case)


def test_servicer_errors_are_api_errors(sqlite_scanner):
    """The transports render ApiError; a servicer must never leak another exception type for bad input."""
    with pytest.raises(ApiError) as caught:
        list_as_anonymous(sqlite_scanner, ss.ListScanResultsRequest(image_id="crp1", filter="status = = x"))
    assert caught.value.code == INVALID
    assert scanner_pb2.ScanResult.Status.Name(2) == "READY"
