# Generated from tests/namespaces/_async/test_namespace_contract.py by scripts/unasync.py: edit that file, not this one.
"""The typed namespace contract, on every backend in tests.backends.SPECS.

Every test names what it tries; bad input must fail before anything is written, so those
tests also check the stored session is exactly as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from sessionkit import (
    Namespace,
    ConflictError,
    CorruptSession,
    CorruptValue,
    InvalidKey,
    SerializationError,
    SessionNotFound,
    TTLPolicy,
)
from sessionkit.clock import system_clock
from sessionkit.namespaces.model import META_KEY
from tests.backends import SPECS
from tests.contract._sync.harness import Harness, close_harness, open_harness

# Precise TTL tests move a fake clock (backends whose server keeps time skip them).
SHORT = 0.4
# The one TTL check that also runs on those backends: it waits for real, with margins wide
# enough that no assertion depends on how fast the machine is.
COARSE_TTL = 2.0


@attrs.define
class Cart:
    owner: str
    items: list[str] = attrs.Factory(list)
    total: int = 0
    note: str | None = None


@attrs.define
class Other:
    owner: str


@pytest.fixture(params=sorted(SPECS))
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    h = open_harness(SPECS[request.param], tmp_path)
    yield h
    close_harness(h)


def make(h: Harness, name: str = "carts", model: type[Any] = Cart, **kw: Any) -> Any:
    return Namespace(h.store, name, model, clock=h.clock or system_clock, **kw)


def require_fake_clock(h: Harness) -> None:
    if h.clock is None:
        pytest.skip(
            f"{h.spec.name} keeps its own time: precise TTLs are checked on fake-clock "
            "backends (test_ttls_expire_on_every_backend covers this one)"
        )


@pytest.fixture
def carts(harness: Harness) -> Namespace[Cart]:
    namespace: Namespace[Cart] = make(harness)
    return namespace


ODD_IDS: list[str | int] = [
    "plain",
    "with:colon",
    "@tenantish",
    "a/b c%20",
    "ñandú 🦆",
    "\x00\n\t",
    "42",
    7,
]


# -- round trips ---------------------------------------------------------------------------


def test_put_then_get_returns_an_equal_object(carts: Namespace[Cart]) -> None:
    cart = Cart("ana", ["pen", "ink"], 12, None)
    carts.put("c1", cart)
    assert carts.get("c1") == cart


def test_get_of_a_missing_id_is_none(carts: Namespace[Cart]) -> None:
    assert carts.get("missing") is None


def test_any_id_round_trips(carts: Namespace[Cart]) -> None:
    for n, session_id in enumerate(ODD_IDS):
        carts.put(session_id, Cart("ana", total=n))
        assert carts.get(session_id) == Cart("ana", total=n), session_id
        assert carts.exists(session_id)
    assert sorted([i for i in carts.ids()]) == sorted(str(i) for i in ODD_IDS)


def test_int_ids_name_the_same_session_as_their_decimal_string(
    carts: Namespace[Cart],
) -> None:
    carts.put(42, Cart("ana"))
    assert carts.get("42") == Cart("ana")


def test_create_writes_only_when_absent(carts: Namespace[Cart]) -> None:
    assert carts.create("c1", Cart("ana"))
    assert not carts.create("c1", Cart("bob"))
    assert carts.get("c1") == Cart("ana")


def test_put_replaces_the_whole_session(carts: Namespace[Cart]) -> None:
    carts.put("c1", Cart("ana", ["pen"], 3))
    carts.put("c1", Cart("bob"))
    assert carts.get("c1") == Cart("bob")


def test_get_many_returns_the_live_sessions_by_id(carts: Namespace[Cart]) -> None:
    carts.put("a", Cart("ana"))
    carts.put(7, Cart("bob"))
    assert carts.get_many(["a", 7, "missing"]) == {"a": Cart("ana"), "7": Cart("bob")}


# -- update and merge ------------------------------------------------------------------------


def test_update_applies_fn_and_returns_the_new_object(carts: Namespace[Cart]) -> None:
    carts.put("c1", Cart("ana", ["pen"], 3))
    new = carts.update("c1", lambda c: attrs.evolve(c, items=[*c.items, "ink"], total=5))
    assert new == Cart("ana", ["pen", "ink"], 5)
    assert carts.get("c1") == new


def test_update_of_a_missing_id_raises_session_not_found(
    carts: Namespace[Cart],
) -> None:
    with pytest.raises(SessionNotFound):
        carts.update("missing", lambda c: c)
    assert not carts.exists("missing")


def test_update_with_a_default_creates_the_session(carts: Namespace[Cart]) -> None:
    new = carts.update(
        "c1", lambda c: attrs.evolve(c, total=c.total + 1), default=Cart("ana")
    )
    assert new == Cart("ana", total=1)
    again = carts.update(
        "c1", lambda c: attrs.evolve(c, total=c.total + 1), default=Cart("ana")
    )
    assert again.total == 2


def test_an_exception_in_fn_propagates_and_writes_nothing(
    carts: Namespace[Cart],
) -> None:
    carts.put("c1", Cart("ana"))

    def boom(cart: Cart) -> Cart:
        raise RuntimeError("tried: an update function that fails")

    with pytest.raises(RuntimeError, match="fails"):
        carts.update("c1", boom)
    assert carts.get("c1") == Cart("ana")


def test_update_fn_returning_another_type_is_rejected_and_writes_nothing(
    carts: Namespace[Cart],
) -> None:
    carts.put("c1", Cart("ana"))
    with pytest.raises(SerializationError, match="expected a Cart, got dict"):
        carts.update("c1", lambda c: {"owner": "x"})  # type: ignore[arg-type,return-value]
    assert carts.get("c1") == Cart("ana")


def test_merge_sets_some_fields(carts: Namespace[Cart]) -> None:
    carts.put("c1", Cart("ana", ["pen"]))
    assert carts.merge("c1", total=9, note="gift") == Cart("ana", ["pen"], 9, "gift")
    assert carts.get("c1") == Cart("ana", ["pen"], 9, "gift")


def test_merge_of_an_unknown_field_is_rejected_and_writes_nothing(
    carts: Namespace[Cart],
) -> None:
    carts.put("c1", Cart("ana"))
    with pytest.raises(SerializationError, match=r"no field.* colour"):
        carts.merge("c1", colour="red")
    assert carts.get("c1") == Cart("ana")


def test_merge_of_a_missing_id_raises_session_not_found(
    carts: Namespace[Cart],
) -> None:
    with pytest.raises(SessionNotFound):
        carts.merge("missing", total=1)


# -- delete, ids, count, purge -----------------------------------------------------------------


def test_delete_reports_whether_the_session_existed(carts: Namespace[Cart]) -> None:
    carts.put("c1", Cart("ana"))
    assert carts.delete("c1")
    assert not carts.delete("c1")
    assert not carts.exists("c1")


def test_ids_count_and_purge_cover_this_namespace_only(harness: Harness) -> None:
    carts: Namespace[Cart] = make(harness)
    others: Namespace[Cart] = make(harness, "carts2")
    for session_id in ODD_IDS:
        carts.put(session_id, Cart("ana"))
    others.put("x", Cart("zoe"))
    harness.store.set("carts", {"not": "a namespace key"})
    assert sorted([i for i in carts.ids()]) == sorted(str(i) for i in ODD_IDS)
    assert carts.count() == len(ODD_IDS)
    assert carts.purge() == len(ODD_IDS)
    assert carts.count() == 0
    assert others.get("x") == Cart("zoe")
    assert harness.store.get("carts") == {"not": "a namespace key"}


def test_ids_and_count_filter_by_id_prefix(carts: Namespace[Cart]) -> None:
    for session_id in ["tariff:1", "tariff:2", "channel:1", "tariffs"]:
        carts.put(session_id, Cart("ana"))
    assert sorted([i for i in carts.ids("tariff:")]) == ["tariff:1", "tariff:2"]
    assert carts.count("tariff") == 3
    assert carts.count("x" * 300) == 0


# -- bad input -------------------------------------------------------------------------------


def test_an_id_of_the_wrong_type_or_empty_is_invalid_key(
    carts: Namespace[Cart],
) -> None:
    bad_ids: list[Any] = [None, 1.5, b"bytes", True, "", ("t",)]
    for bad_id in bad_ids:  # tried: None, a float, bytes, a bool, "", a tuple
        with pytest.raises(InvalidKey, match="session id"):
            carts.put(bad_id, Cart("ana"))
        with pytest.raises(InvalidKey, match="session id"):
            carts.get(bad_id)
    assert carts.count() == 0


def test_an_id_too_long_for_a_key_is_invalid_key_naming_it(
    carts: Namespace[Cart],
) -> None:
    longest = "x" * (256 - len("carts:"))
    carts.put(longest, Cart("ana"))  # exactly fits
    too_long = "ñ" * 60  # 120 bytes of UTF-8, 360 characters once percent-encoded
    with pytest.raises(InvalidKey, match=r"session id 'ñññ.*too long.*360 characters"):
        carts.put(too_long, Cart("bob"))
    assert [i for i in carts.ids()] == [longest]


def test_put_of_an_object_of_another_class_is_rejected(carts: Namespace[Cart]) -> None:
    carts.put("c1", Cart("ana"))
    with pytest.raises(SerializationError, match="expected a Cart, got Other"):
        carts.put("c1", Other("bob"))  # type: ignore[arg-type]
    assert carts.get("c1") == Cart("ana")


def test_put_of_a_value_json_cannot_hold_is_rejected(carts: Namespace[Cart]) -> None:
    carts.put("c1", Cart("ana"))
    with pytest.raises(SerializationError):
        carts.put("c1", Cart("ana", note=float("nan")))  # type: ignore[arg-type]
    assert carts.get("c1") == Cart("ana")


MISTYPED: list[tuple[Cart, str]] = [
    (Cart("ana", total="5"), "total"),  # type: ignore[arg-type]  # tried: a str for an int
    (Cart("ana", total=1.5), "total"),  # type: ignore[arg-type]  # tried: a float for an int
    (Cart("ana", total=True), "total"),  # tried: a bool for an int
    (Cart("ana", items=["pen", 3]), "items[1]"),  # type: ignore[list-item]  # tried: an int in list[str]
    (Cart(42), "owner"),  # type: ignore[arg-type]  # tried: an int for a str
    (Cart("ana", items="pen"), "items"),  # type: ignore[arg-type]  # tried: a str for a list
    (Cart("ana", items={"pen": 1}), "items"),  # type: ignore[arg-type]  # tried: a dict for a list
]


def test_an_object_with_a_mistyped_field_is_rejected_naming_it_and_writes_nothing(
    carts: Namespace[Cart],
) -> None:
    carts.put("c1", Cart("ana", ["pen"], 3))
    for bad, field in MISTYPED:
        for write in (
            lambda bad=bad: carts.put("c1", bad),
            lambda bad=bad: carts.put("new", bad),
            lambda bad=bad: carts.create("new", bad),
            lambda bad=bad: carts.update("c1", lambda c: bad),
            lambda bad=bad: carts.update("new", lambda c: c, default=bad),
        ):
            with pytest.raises(SerializationError) as caught:
                write()
            assert "'carts'" in str(caught.value), bad
            assert repr(field) in str(caught.value), bad
        if field != "items[1]":
            with pytest.raises(SerializationError, match=repr(field).replace("[", r"\[")):
                carts.merge("c1", **{field: getattr(bad, field)})
    assert carts.get("c1") == Cart("ana", ["pen"], 3)  # every stored session reads
    assert not carts.exists("new")
    assert [i for i in carts.ids()] == ["c1"]


def test_update_hands_fn_a_fresh_copy_of_the_default_every_time(
    carts: Namespace[Cart],
) -> None:
    default = Cart("ana")

    def add_pen(cart: Cart) -> Cart:  # mutates its argument (legal: it gets its own copy)
        cart.items.append("pen")
        return cart

    first = carts.update("c1", add_pen, default=default)
    second = carts.update("c2", add_pen, default=default)
    assert first.items == second.items == ["pen"]
    assert default == Cart("ana")  # the caller's object is never handed to fn
    assert carts.get("c2") == Cart("ana", ["pen"])


def test_update_with_a_default_restarts_a_session_past_its_maximum_lifetime(
    harness: Harness,
) -> None:
    require_fake_clock(harness)
    policy = TTLPolicy.sliding(SHORT * 10, max_lifetime=SHORT * 20)
    carts: Namespace[Cart] = make(harness, policy=policy)
    # The same session written under a longer store TTL, as by an older deployment: the
    # store still holds it after the namespace's maximum lifetime.
    longer: Namespace[Cart] = make(harness, policy=TTLPolicy.absolute(SHORT * 100))
    longer.put("c1", Cart("ana", ["old"], 9))
    harness.advance(SHORT * 21)
    assert carts.get("c1") is None  # past its maximum lifetime: absent
    with pytest.raises(SessionNotFound):
        carts.update("c1", lambda c: attrs.evolve(c, total=c.total + 1))
    new = carts.update(
        "c1", lambda c: attrs.evolve(c, total=c.total + 1), default=Cart("bob")
    )
    assert new == Cart("bob", total=1)  # started from the default, not from the old session
    assert carts.get("c1") == Cart("bob", total=1)
    remaining = carts.ttl("c1")
    assert remaining is not None
    assert remaining == pytest.approx(SHORT * 10)  # a new lifetime
    harness.advance(SHORT * 9)  # 30 SHORT: past the old cap (20), not the new one (41)
    assert carts.merge("c1", total=2) == Cart("bob", total=2)


def test_update_with_a_default_after_the_store_expired_the_session(
    harness: Harness,
) -> None:
    require_fake_clock(harness)
    policy = TTLPolicy.sliding(SHORT, max_lifetime=SHORT * 2)
    carts: Namespace[Cart] = make(harness, policy=policy)
    carts.put("c1", Cart("ana", total=5))
    for _ in range(3):
        harness.advance(SHORT * 0.9)
        carts.update("c1", lambda c: c, default=Cart("bob"))
    # 2.7 SHORT: the first session reached its cap at 2 SHORT; the second started at 2.7.
    assert carts.get("c1") == Cart("bob")


# -- schema evolution and corrupt values ---------------------------------------------------------


def test_a_value_written_by_an_older_class_still_loads(harness: Harness) -> None:
    @attrs.define
    class CartV1:
        owner: str
        coupon: str = ""  # removed in Cart; Cart's total and note were added with defaults

    old: Namespace[CartV1] = make(harness, model=CartV1)
    old.put("c1", CartV1("ana", "SUMMER"))
    carts: Namespace[Cart] = make(harness)
    assert carts.get("c1") == Cart("ana")
    assert carts.merge("c1", total=4) == Cart("ana", total=4)


UNSTRUCTURABLE: list[tuple[dict[str, Any], str]] = [
    ({"owner": "ana", "total": 1.7}, "total"),  # tried: a float where an int belongs
    ({"owner": "ana", "total": "5"}, "total"),  # tried: a numeric string
    ({"owner": "ana", "items": "pen"}, "items"),  # tried: a string for a list
    ({"owner": "ana", "items": ["pen", 3]}, "items[1]"),  # tried: an int in a list of str
    ({"owner": None}, "owner"),  # tried: null for a required str
]


def test_an_unstructurable_value_is_corrupt_session_and_left_untouched(
    harness: Harness,
) -> None:
    carts: Namespace[Cart] = make(harness)
    for n, (bad, field) in enumerate(UNSTRUCTURABLE):
        session_id = f"c{n}"
        harness.store.set(carts.key(session_id), bad)
        with pytest.raises(CorruptSession) as caught:
            carts.get(session_id)
        error = caught.value
        assert isinstance(error, CorruptValue)
        assert (error.namespace, error.session_id, error.field) == ("carts", session_id, field)
        for name in ("'carts'", repr(session_id), repr(field)):
            assert name in str(error)
        with pytest.raises(CorruptSession):
            carts.update(session_id, lambda c: c)
        with pytest.raises(CorruptSession):
            carts.merge(session_id, total=1)
        assert harness.store.get(carts.key(session_id)) == bad


def test_a_missing_required_field_names_that_field(harness: Harness) -> None:
    carts: Namespace[Cart] = make(harness)
    harness.store.set(carts.key("c1"), {"items": []})
    with pytest.raises(CorruptSession) as caught:
        carts.get("c1")
    assert caught.value.field == "owner"
    assert "required field missing" in str(caught.value)


def test_metadata_is_stored_beside_the_fields(harness: Harness) -> None:
    carts: Namespace[Cart] = make(harness)
    carts.put("c1", Cart("ana"))
    raw = harness.store.get(carts.key("c1"))
    assert raw is not None
    assert raw["owner"] == "ana"
    assert set(raw[META_KEY]) == {"created_at"}


# -- TTL policies ---------------------------------------------------------------------------------


def test_ttls_expire_on_every_backend(harness: Harness) -> None:
    absolute: Namespace[Cart] = make(harness, policy=TTLPolicy.absolute(COARSE_TTL))
    sliding: Namespace[Cart] = make(
        harness, "chats", policy=TTLPolicy.sliding(COARSE_TTL, max_lifetime=COARSE_TTL * 5)
    )
    for namespace in (absolute, sliding):
        namespace.put("c1", Cart("ana"))
        assert namespace.get("c1") == Cart("ana")  # still there right after writing
        remaining = namespace.ttl("c1")
        assert remaining is not None
        assert 0 < remaining <= COARSE_TTL
    harness.advance(COARSE_TTL + 1.0)  # well past the TTL, without reads or writes
    for namespace in (absolute, sliding):
        assert namespace.get("c1") is None
        assert not namespace.exists("c1")


def test_absolute_ttl_expires_after_creation_and_updates_keep_it(
    harness: Harness,
) -> None:
    require_fake_clock(harness)
    carts: Namespace[Cart] = make(harness, policy=TTLPolicy.absolute(SHORT))
    carts.put("c1", Cart("ana"))
    harness.advance(SHORT * 0.6)
    carts.merge("c1", total=1)
    remaining = carts.ttl("c1")
    assert remaining is not None
    assert remaining <= SHORT * 0.4 + 0.05
    harness.advance(SHORT * 0.6)
    assert carts.get("c1") is None


def test_sliding_ttl_renews_on_write_not_read_when_so_configured(
    harness: Harness,
) -> None:
    require_fake_clock(harness)
    policy = TTLPolicy.sliding(SHORT, on_read=False, on_write=True)
    carts: Namespace[Cart] = make(harness, policy=policy)
    carts.put("c1", Cart("ana"))
    harness.advance(SHORT * 0.6)
    assert carts.get("c1") == Cart("ana")  # a read: no renewal
    remaining = carts.ttl("c1")
    assert remaining is not None
    assert remaining <= SHORT * 0.4 + 0.05
    carts.merge("c1", total=1)  # a write: renewed
    remaining = carts.ttl("c1")
    assert remaining is not None
    assert remaining > SHORT * 0.6


def test_sliding_ttl_renews_on_read_when_so_configured(harness: Harness) -> None:
    require_fake_clock(harness)
    policy = TTLPolicy.sliding(SHORT, on_read=True, on_write=False)
    carts: Namespace[Cart] = make(harness, policy=policy)
    carts.put("c1", Cart("ana"))
    harness.advance(SHORT * 0.6)
    carts.merge("c1", total=1)  # a write: no renewal
    remaining = carts.ttl("c1")
    assert remaining is not None
    assert remaining <= SHORT * 0.4 + 0.05
    assert carts.get("c1") is not None  # a read: renewed
    remaining = carts.ttl("c1")
    assert remaining is not None
    assert remaining > SHORT * 0.6


def test_touch_renews_a_sliding_ttl_and_reports_existence(harness: Harness) -> None:
    require_fake_clock(harness)
    carts: Namespace[Cart] = make(harness, policy=TTLPolicy.sliding(SHORT))
    carts.put("c1", Cart("ana"))
    harness.advance(SHORT * 0.6)
    assert carts.touch("c1")
    remaining = carts.ttl("c1")
    assert remaining is not None
    assert remaining > SHORT * 0.6
    assert not carts.touch("missing")


def test_touch_leaves_an_absolute_ttl_alone(harness: Harness) -> None:
    require_fake_clock(harness)
    carts: Namespace[Cart] = make(harness, policy=TTLPolicy.absolute(SHORT))
    carts.put("c1", Cart("ana"))
    harness.advance(SHORT * 0.6)
    assert carts.touch("c1")
    remaining = carts.ttl("c1")
    assert remaining is not None
    assert remaining <= SHORT * 0.4 + 0.05


def test_sliding_ttl_is_capped_by_the_maximum_lifetime(harness: Harness) -> None:
    require_fake_clock(harness)
    policy = TTLPolicy.sliding(SHORT, on_read=True, max_lifetime=SHORT * 2.25)
    carts: Namespace[Cart] = make(harness, policy=policy)
    carts.put("c1", Cart("ana"))
    for _ in range(3):  # active all along: reads and writes every 0.6 SHORT
        harness.advance(SHORT * 0.6)
        carts.merge("c1", total=1)
        assert carts.get("c1") is not None
    # 1.8 SHORT after creation: the cap (2.25 SHORT) is closer than a full renewal.
    remaining = carts.ttl("c1")
    assert remaining is not None
    assert remaining <= SHORT * 0.45 + 0.05
    harness.advance(SHORT * 0.6)
    assert carts.get("c1") is None
    with pytest.raises(SessionNotFound):
        carts.merge("c1", total=2)
    assert not carts.touch("c1")


def test_put_starts_a_new_lifetime(harness: Harness) -> None:
    require_fake_clock(harness)
    policy = TTLPolicy.sliding(SHORT, max_lifetime=SHORT * 1.5)
    carts: Namespace[Cart] = make(harness, policy=policy)
    carts.put("c1", Cart("ana"))
    harness.advance(SHORT * 0.7)
    carts.put("c1", Cart("bob"))  # a new session under the same id: a new lifetime
    harness.advance(SHORT * 0.7)
    carts.merge("c1", total=1)  # the first lifetime would leave 0.1 SHORT; this 0.8
    remaining = carts.ttl("c1")
    assert remaining is not None
    assert remaining > SHORT * 0.5


class ReplacingStore:
    """The real store, except that its first ``replacements`` reads of an entry see a
    different creation instant each: as if the session were deleted and created again by
    another process between the namespace's read and its atomic update."""

    def __init__(self, store: Any, replacements: int) -> None:
        self.store = store
        self.replacements = replacements
        self.reads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def get_entry(self, key: str) -> Any:
        entry = self.store.get_entry(key)
        self.reads += 1
        if entry is None or self.reads > self.replacements:
            return entry
        replaced_at = entry.value[META_KEY]["created_at"] + self.reads / 1000
        return attrs.evolve(entry, value={**entry.value, META_KEY: {"created_at": replaced_at}})


@pytest.mark.parametrize("replacements", [1, 3])
def test_update_starts_over_when_the_session_was_replaced_meanwhile(
    harness: Harness, replacements: int
) -> None:
    policy = TTLPolicy.sliding(SHORT * 10, max_lifetime=SHORT * 20)
    carts: Namespace[Cart] = make(harness, policy=policy)
    carts.put("c1", Cart("ana"))
    replacing = ReplacingStore(harness.store, replacements)
    view: Namespace[Cart] = make(harness, policy=policy)
    view._store = replacing
    assert view.merge("c1", total=1) == Cart("ana", total=1)
    assert replacing.reads == replacements + 1


def test_update_gives_up_with_conflict_error_if_the_session_keeps_being_replaced(
    harness: Harness,
) -> None:
    policy = TTLPolicy.sliding(SHORT * 10, max_lifetime=SHORT * 20)
    carts: Namespace[Cart] = make(harness, policy=policy)
    carts.put("c1", Cart("ana"))
    view: Namespace[Cart] = make(harness, policy=policy)
    view._store = ReplacingStore(harness.store, replacements=1000)
    with pytest.raises(ConflictError):
        view.merge("c1", total=1)
    assert carts.get("c1") == Cart("ana")


# -- tenant isolation ------------------------------------------------------------------------

# The default tenant, tenants whose ids are prefixes of each other, and namespaces whose
# names are prefixes of each other: every view below holds a different number of sessions.
TENANTS: list[str | None] = [None, "ac", "acme", "acme2"]
SIZES = {
    (None, "carts"): 1,
    (None, "carts2"): 2,
    ("ac", "carts"): 3,
    ("acme", "carts"): 4,
    ("acme", "carts2"): 5,
    ("acme2", "carts"): 6,
}


def _fill_tenants(h: Harness) -> dict[tuple[str | None, str], Namespace[Cart]]:
    views = {view: make(h, view[1], tenant=view[0]) for view in SIZES}
    for view, size in SIZES.items():
        for i in range(size):
            views[view].put(f"s{i}", Cart(f"{view}"))
    return views


def test_count_and_ids_see_only_their_own_tenant(harness: Harness) -> None:
    views = _fill_tenants(harness)
    for view, space in views.items():
        assert space.count() == SIZES[view], view
        assert sorted([i for i in space.ids()]) == [f"s{i}" for i in range(SIZES[view])]
        assert space.count("s1") == (1 if SIZES[view] > 1 else 0), view
    # A tenant (or namespace) with no sessions of its own sees none of the others'.
    assert make(harness, "carts", tenant="a").count() == 0
    assert [i for i in make(harness, "cart", tenant="acme").ids()] == []


def test_purge_deletes_only_its_own_tenant_and_namespace(harness: Harness) -> None:
    views = _fill_tenants(harness)
    remaining = dict(SIZES)
    # Each purge reports exactly its own view's sessions and leaves every other view whole.
    for view in [("acme", "carts"), (None, "carts"), ("ac", "carts"), ("acme2", "carts")]:
        assert views[view].purge() == SIZES[view], view
        remaining[view] = 0
        for other, space in views.items():
            assert space.count() == remaining[other], (view, other)
            stored = space.get_many([f"s{i}" for i in range(SIZES[other])])
            assert len(stored) == remaining[other], (view, other)
    assert views[("acme", "carts")].purge() == 0  # nothing left to purge twice
