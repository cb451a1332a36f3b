"""Hostile input to the attach/webhook parsers: only their own errors, never a crash (Hypothesis, bounded)."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crscan.api.body import BodyError, decode_json
from crscan.sync import SyncError, WebhookHandler, parse_registry_url
from crscan.sync.webhook import EnvelopeError, UnknownRegistry, parse_envelope

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)
# events shaped like the real ones, with every field free to be anything
event_like = st.fixed_dictionaries({}, optional={
    "action": st.sampled_from(["push", "pull", "delete"]) | json_values,
    "target": st.fixed_dictionaries({}, optional={
        "mediaType": st.sampled_from(["application/vnd.oci.image.manifest.v1+json",
                                      "application/vnd.oci.image.index.v1+json"]) | json_values,
        "digest": st.just("sha256:" + "a" * 64) | json_values,
        "repository": st.text(max_size=20) | json_values,
        "tag": st.text(max_size=10) | json_values,
        "url": st.text(max_size=40) | st.just("http://[::1") | json_values,
    }) | json_values,
    "request": st.fixed_dictionaries({}, optional={"host": st.text(max_size=20) | json_values}) | json_values,
})


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
def test_envelope_parser_raises_only_its_own_error(body):
    try:
        envelope = parse_envelope(decode_json(body))
    except (BodyError, EnvelopeError) as exc:
        assert str(exc)
    else:
        assert len(envelope.pushes) <= envelope.received


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(event_like, max_size=5))
def test_handler_never_crashes_on_hostile_events(sqlite_store, box, events):
    try:
        envelope = parse_envelope({"events": events})
    except EnvelopeError as exc:
        assert str(exc).startswith("events[")
        return
    try:
        result = WebhookHandler(sqlite_store, box).handle(envelope, sqlite_store.registries.all())
    except UnknownRegistry:
        assert envelope.pushes  # no registry is attached
    else:
        assert not envelope.pushes and result.ignored == len(events) and result.upserted == 0


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60), st.booleans())
def test_registry_url_parser_raises_only_its_own_error(text, insecure):
    try:
        address = parse_registry_url(text, insecure)
    except SyncError as exc:
        assert str(exc)
    else:
        assert address.url == f"{address.scheme}://{address.host}"
