"""Key building and TTL policy arithmetic: the pure parts of namespaces."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionkit import (
    ConfigurationError,
    InvalidKey,
    InvalidTTL,
    TTLPolicy,
)
from sessionkit.keys import validate_key
from sessionkit.namespaces.keyspace import (
    KeySpace,
    decode_id,
    encode_id,
    namespace_of,
    namespace_prefix,
    parse_key,
)
from sessionkit.namespaces.policy import InvalidPolicy
from sessionkit.presets import (
    Conversation,
    WizardFlow,
    with_message,
)

ENCODED = re.compile(r"[A-Za-z0-9_.~%-]+")
any_id = st.one_of(st.text(min_size=1, max_size=15), st.integers(min_value=0))
any_tenant = st.one_of(st.none(), st.text(min_size=1, max_size=8), st.integers(min_value=0))
names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True)


@given(st.text(min_size=1))
def test_encoding_round_trips_and_never_produces_a_separator(text: str) -> None:
    encoded = encode_id(text)
    assert ENCODED.fullmatch(encoded)
    assert decode_id(encoded) == text


@given(tenant=any_tenant, name=names, session_id=any_id)
def test_every_key_is_valid_and_parses_back_to_what_built_it(
    tenant: str | int | None, name: str, session_id: str | int
) -> None:
    key = KeySpace(name, tenant).key(session_id)
    assert validate_key(key) == key
    expected_tenant = None if tenant is None else str(tenant)
    assert parse_key(key) == (expected_tenant, name, str(session_id))


@given(tenant=any_tenant, name=names, session_id=any_id)
def test_every_key_is_under_its_namespace_prefix(
    tenant: str | int | None, name: str, session_id: str | int
) -> None:
    space = KeySpace(name, tenant)
    key = space.key(session_id)
    assert namespace_of(key) == (None if tenant is None else str(tenant), name)
    assert namespace_prefix(key) == space.prefix


def test_integration_keys_are_never_namespace_keys() -> None:
    for key in ["~websession:abc", "~aiogram:1:2:3", "~ptb:user:42", "~", "plain", "@acme:x"]:
        assert namespace_of(key) is None, key  # tried: keys the integrations write, and others
        assert namespace_prefix(key) is None, key
    with pytest.raises(ConfigurationError, match="cannot start with '~'"):
        KeySpace("~websession")  # tried: a namespace named like the integrations' keys


def test_lone_surrogates_are_distinct_ids_too() -> None:
    assert decode_id(encode_id("\ud800")) == "\ud800"
    assert encode_id("\ud800") != encode_id("\ud801")


@pytest.mark.parametrize("name", ["", "a:b", "@x", "-x", "x" * 65, "ñandú", "a b", 5, None])
def test_a_bad_namespace_name_is_a_configuration_error(name: Any) -> None:
    with pytest.raises(ConfigurationError, match="namespace name"):
        KeySpace(name)


def test_a_tenant_id_too_long_for_any_key_is_invalid_key_naming_it() -> None:
    with pytest.raises(InvalidKey, match=r"tenant id 'ttt.*too long"):
        KeySpace("templates", "t" * 300)


def test_keys_that_no_namespace_wrote_do_not_parse() -> None:
    for key in ["plain", "@tenant-only", "@:ns:id", "ns:a:b", "bad name:id"]:
        assert parse_key(key) is None, key


# -- TTL policies -------------------------------------------------------------------------


def test_policy_initial_ttls() -> None:
    assert TTLPolicy.none().initial_ttl() is None
    assert TTLPolicy.absolute(60).initial_ttl() == 60
    assert TTLPolicy.sliding(60).initial_ttl() == 60
    assert TTLPolicy.sliding(60, max_lifetime=60).initial_ttl() == 60


def test_a_sliding_write_renews_up_to_the_cap() -> None:
    policy = TTLPolicy.sliding(100, on_read=False, max_lifetime=250)
    assert policy.ttl_after_write(now=10, created_at=0) == 100
    assert policy.ttl_after_write(now=200, created_at=0) == 50
    assert policy.ttl_after_write(now=250, created_at=0) == 0  # past the cap
    assert policy.ttl_after_read(now=10, created_at=0) is None
    assert policy.expired_at(now=250, created_at=0)
    assert not policy.expired_at(now=249, created_at=0)


def test_absolute_and_no_policies_never_renew() -> None:
    for policy in (TTLPolicy.none(), TTLPolicy.absolute(60)):
        assert policy.ttl_after_write(now=10, created_at=0) is None
        assert policy.ttl_after_read(now=10, created_at=0) is None


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: TTLPolicy.sliding(60, on_read=False, on_write=False), ValueError, "neither"),
        (lambda: TTLPolicy.sliding(60, max_lifetime=30), ValueError, "shorter than"),
        (lambda: TTLPolicy.absolute(0), InvalidTTL, "positive"),
        (lambda: TTLPolicy.sliding("2h"), InvalidTTL, "seconds or a timedelta"),  # type: ignore[arg-type]
    ],
)
def test_bad_policies_are_rejected(make: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"kind": "sliding"}, InvalidPolicy, "needs a ttl"),  # tried: sliding with no ttl
        ({"kind": "absolute"}, InvalidPolicy, "needs a ttl"),  # tried: absolute, no ttl
        ({"kind": "sliding", "ttl": 60}, InvalidPolicy, "neither"),  # tried: no renewal
        ({"kind": "none", "ttl": 60}, InvalidPolicy, "none"),  # tried: none with a ttl
        ({"kind": "absolute", "ttl": 60, "renew_on_write": True}, InvalidPolicy, "renews"),
        ({"kind": "absolute", "ttl": 60, "max_lifetime": 90}, InvalidPolicy, "max_lifetime"),
        (
            {"kind": "sliding", "ttl": 60, "max_lifetime": 30, "renew_on_read": True},
            InvalidPolicy,
            "shorter than",
        ),  # tried: a cap shorter than the ttl
        ({"kind": "expiring", "ttl": 60}, InvalidPolicy, "kind"),  # tried: an unknown kind
        ({"kind": "absolute", "ttl": -5}, InvalidTTL, "positive"),  # tried: a negative ttl
        ({"kind": "absolute", "ttl": "60"}, InvalidTTL, "seconds"),  # tried: a str ttl
        ({"kind": "sliding", "ttl": 60, "renew_on_read": 1}, InvalidPolicy, "bool"),
    ],
)
def test_a_policy_built_directly_is_checked_at_once(
    fields: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        TTLPolicy(**fields)


def test_invalid_policy_is_a_configuration_error_and_a_value_error() -> None:
    with pytest.raises(ConfigurationError):
        TTLPolicy("sliding")
    with pytest.raises(ValueError, match="needs a ttl"):
        TTLPolicy("sliding")
    assert TTLPolicy("sliding", 60, None, True, False) == TTLPolicy.sliding(60, on_write=False)


# -- preset helpers ------------------------------------------------------------------------


@pytest.mark.parametrize("steps", [(), ("price", "price")])
def test_a_wizard_flow_needs_distinct_steps(steps: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="distinct steps"):
        WizardFlow("broken", steps)


def test_with_message_appends_and_adds_usage_up() -> None:
    first = with_message(Conversation(), {"role": "user"}, 1.0, {"input_tokens": 3})
    second = with_message(first, {"role": "assistant"}, 2.0, {"input_tokens": 1, "output": 5})
    assert second.messages == [{"role": "user"}, {"role": "assistant"}]
    assert second.usage == {"input_tokens": 4, "output": 5}
    assert second.last_activity == 2.0
    assert first.messages == [{"role": "user"}]  # the original is not changed
