"""Tokens on a real store (SQLite and PostgreSQL): secrets stored only as hashes, expiry, revocation, refusals
that name the problem, and the migration that creates the table."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect, text

from crscan.api.messages import OPERATION_CODEC
from crscan.auth import AuthError, InvalidToken, Role, SqlTokenRepository, TokenService, parse_duration, required_role
from crscan.store import Store
from tests.auth.conftest import ISSUED_SECRETS, issue

NOW = dt.datetime(2026, 1, 1, 12, 0, 0)


@pytest.fixture
def store(database_url):
    store = Store(database_url, OPERATION_CODEC)
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def tokens(store) -> TokenService:
    return TokenService(SqlTokenRepository(store))


def test_migrations_have_one_head_and_create_the_tokens_table(store):
    config = Config()
    config.set_main_option("script_location", "crscan.store:migrations")
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1
    with store.engine.connect() as connection:
        assert connection.execute(text("select version_num from alembic_version")).scalar() == heads[0]
        columns = {column["name"] for column in inspect(connection).get_columns("api_tokens")}
    assert {"id", "role", "registries", "secret_sha256", "expires_at", "revoked_at"} <= columns


def test_only_the_hash_of_the_secret_is_stored(store, tokens):
    secret = issue(tokens, Role.EDITOR, description="ci")
    token_id, _, raw = secret.partition(".")
    with store.engine.connect() as connection:
        row = connection.execute(text("select * from api_tokens")).mappings().one()
    assert row["id"] == token_id
    assert bytes(row["secret_sha256"]) == hashlib.sha256(raw.encode()).digest()
    stored = " ".join(str(value) for value in row.values())
    assert raw not in stored and secret not in stored
    assert tokens.verify(secret, NOW).role is Role.EDITOR


def test_verify_refuses_with_a_reason_and_never_echoes_the_token(store, tokens):
    secret = issue(tokens, Role.VIEWER)
    token_id, _, raw = secret.partition(".")
    wrong = token_id + "." + ("B" if raw[0] != "B" else "C") + raw[1:]
    unknown = "crk" + "0" * 17 + "." + raw
    cases = {
        None: "requires a token",
        "": "requires a token",
        "t1.some-iam-token": "not a crscan API token",
        secret + "x": "not a crscan API token",
        wrong: "not valid",
        unknown: "not valid",
    }
    for presented, reason in cases.items():
        with pytest.raises(InvalidToken) as refused:
            tokens.verify(presented, NOW)
        assert reason in str(refused.value)
        assert raw not in str(refused.value)


def test_expired_and_revoked_tokens_are_refused(tokens):
    expiring = tokens.create(Role.ADMIN, expires_in=dt.timedelta(hours=1), now=NOW)
    ISSUED_SECRETS.append(expiring.secret)
    assert tokens.verify(expiring.secret, NOW + dt.timedelta(minutes=59)).id == expiring.record.id
    with pytest.raises(InvalidToken, match="expired at 2026-01-01 13:00:00 UTC"):
        tokens.verify(expiring.secret, NOW + dt.timedelta(hours=1))
    revoked = tokens.create(Role.ADMIN, now=NOW)
    ISSUED_SECRETS.append(revoked.secret)
    assert tokens.revoke(revoked.record.id, NOW).revoked_at == NOW
    with pytest.raises(InvalidToken, match="was revoked"):
        tokens.verify(revoked.secret, NOW)
    assert tokens.revoke(revoked.record.id, NOW + dt.timedelta(days=1)).revoked_at == NOW  # first revocation stays
    states = {record.id: record.state(NOW + dt.timedelta(hours=2)) for record in tokens.list()}
    assert states == {expiring.record.id: "expired", revoked.record.id: "revoked"}


class CountingRepository(SqlTokenRepository):
    """The real repository, counting how often a verification reads a token's row."""

    def __init__(self, store: Store):
        super().__init__(store)
        self.lookups = 0

    def find(self, token_id):
        self.lookups += 1
        return super().find(token_id)

    def find_iam_token(self, iam_token_id):
        self.lookups += 1
        return super().find_iam_token(iam_token_id)


def revoke_elsewhere(database_url: str, revoke) -> None:
    """`revoke(TokenService)` on a store of its own (own engine, own connections), like `crscan token revoke`."""
    other = Store(database_url, OPERATION_CODEC)
    try:
        revoke(TokenService(SqlTokenRepository(other)))
    finally:
        other.close()


def test_a_verified_token_is_not_looked_up_again_until_the_tokens_change(store, database_url):
    serving = TokenService(CountingRepository(store))
    secret, other = issue(serving, Role.VIEWER), issue(serving, Role.EDITOR)
    for _ in range(3):
        assert serving.verify(secret, NOW).role is Role.VIEWER
        assert serving.verify(other, NOW).role is Role.EDITOR
    # SQLite says when any connection committed (PRAGMA data_version); PostgreSQL has no such signal.
    assert serving.repository.lookups == (2 if store.engine.dialect.name == "sqlite" else 6)
    wrong = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    with pytest.raises(InvalidToken, match="not valid"):  # a near miss is no hit: the whole token is the key
        serving.verify(wrong, NOW)
    store.registries.add("alpha", "alpha.example", folder_id="f")  # any commit, here unrelated, voids them all
    before = serving.repository.lookups
    assert serving.verify(secret, NOW).role is Role.VIEWER
    assert serving.repository.lookups == before + 1


def test_a_verified_token_is_refused_at_once_when_another_process_revokes_it(store, database_url):
    serving = TokenService(SqlTokenRepository(store))
    secret = issue(serving, Role.VIEWER)
    assert serving.verify(secret, NOW).role is Role.VIEWER
    revoke_elsewhere(database_url, lambda tokens: tokens.revoke(secret.partition(".")[0], NOW))
    with pytest.raises(InvalidToken, match="was revoked"):
        serving.verify(secret, NOW)


def test_a_verified_iam_token_is_refused_at_once_when_revoked_elsewhere_and_still_expires(store, database_url):
    serving = TokenService(SqlTokenRepository(store))
    holder = issue(serving, Role.VIEWER)
    kept, dropped = (serving.issue_iam_token(holder, NOW).secret for _ in range(2))
    ISSUED_SECRETS.extend((kept, dropped))
    for iam_token in (kept, dropped):
        assert serving.verify(iam_token, NOW).id == holder.partition(".")[0]
    revoke_elsewhere(database_url, lambda tokens: tokens.revoke_iam_token(dropped, NOW))
    with pytest.raises(InvalidToken, match="not valid"):
        serving.verify(dropped, NOW)
    assert serving.verify(kept, NOW).id == holder.partition(".")[0]
    with pytest.raises(InvalidToken, match="expired at 2026-01-02 00:00:00 UTC"):  # checked on every use
        serving.verify(kept, NOW + dt.timedelta(hours=12))


def test_scopes_name_existing_registries_and_round_trip(store, tokens):
    alpha = store.registries.add("alpha", "alpha.example", folder_id="f").id
    beta = store.registries.add("beta", "beta.example", folder_id="f").id
    secret = issue(tokens, Role.VIEWER, registries=[beta, alpha, alpha])
    assert tokens.verify(secret, NOW).registries == {alpha, beta}
    assert tokens.verify(issue(tokens, Role.VIEWER), NOW).registries is None
    with pytest.raises(AuthError, match="registry crp0000000000000000 not found"):
        tokens.create(Role.VIEWER, registries=["crp0000000000000000"])
    with pytest.raises(AuthError, match="at least one registry"):
        tokens.create(Role.VIEWER, registries=[])
    with pytest.raises(ValueError, match="malformed"):
        tokens.create(Role.VIEWER, registries=["../etc"])
    assert len(tokens.list()) == 2  # the refused ones left nothing behind


def test_revoke_refuses_unknown_ids_and_pasted_secrets(tokens):
    secret = issue(tokens, Role.VIEWER)
    with pytest.raises(AuthError) as refused:
        tokens.revoke(secret)
    assert secret.partition(".")[2] not in str(refused.value)
    with pytest.raises(AuthError, match="not found"):
        tokens.revoke("crk" + "1" * 17)


def test_has_active_counts_only_live_tokens_of_the_role(tokens):
    assert not tokens.has_active(Role.ADMIN)
    issue(tokens, Role.EDITOR)
    assert tokens.has_active(Role.VIEWER) and not tokens.has_active(Role.ADMIN)
    admin = tokens.create(Role.ADMIN, expires_in=dt.timedelta(seconds=1), now=NOW)
    ISSUED_SECRETS.append(admin.secret)
    assert not tokens.has_active(Role.ADMIN, now=NOW + dt.timedelta(seconds=1))
    assert tokens.has_active(Role.ADMIN, now=NOW)


@pytest.mark.parametrize(
    "text, expected",
    [("30d", dt.timedelta(days=30)), ("12h", dt.timedelta(hours=12)), ("90m", dt.timedelta(minutes=90)),
     ("2w", dt.timedelta(weeks=2)), ("3600s", dt.timedelta(seconds=3600)), (" 7d ", dt.timedelta(days=7))],
)
def test_durations(text, expected):
    assert parse_duration(text) == expected


@settings(max_examples=200)
@given(st.text(max_size=12))
def test_anything_else_is_not_a_duration(text):
    if re.fullmatch(r"[0-9]{1,6}[smhdw]", text.strip()) and int(text.strip()[:-1]):
        assert parse_duration(text) > dt.timedelta(0)
        return
    with pytest.raises(AuthError, match="not a duration"):
        parse_duration(text)


def test_roles_parse_by_name_and_order():
    assert Role.parse("Editor") is Role.EDITOR
    assert Role.VIEWER < Role.EDITOR < Role.ADMIN
    with pytest.raises(AuthError, match="unknown role 'root'"):
        Role.parse("root")


def test_methods_unknown_to_the_table_need_admin():
    assert required_role("/yandex.cloud.containerregistry.v1.LifecyclePolicyService/Create") is Role.ADMIN
    assert required_role("/yandex.cloud.containerregistry.v1.LifecyclePolicyService/List") is Role.VIEWER



@pytest.fixture(scope="module")
def fuzz_tokens(tmp_path_factory):
    """One store for every example (a store per example would dominate the run)."""
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'crscan.db'}", OPERATION_CODEC)
    store.migrate()
    service = TokenService(SqlTokenRepository(store))
    issue(service, Role.ADMIN)
    yield service
    store.close()


@settings(max_examples=200, deadline=None)
@given(presented=st.one_of(
    st.text(max_size=120),
    st.builds(lambda tail: "crk" + "0" * 17 + "." + tail, st.text(max_size=60)),
))
@example(presented="crk\udcff.not-utf-8")  # a lone surrogate: the cache key's hashing must not crash on it
def test_any_presented_string_is_refused_cleanly(fuzz_tokens, presented):
    """Hostile bearer values: never a crash, never an accepted token, never echoed."""
    with pytest.raises(InvalidToken) as refused:
        fuzz_tokens.verify(presented, NOW)
    assert len(presented) < 20 or presented not in str(refused.value)
