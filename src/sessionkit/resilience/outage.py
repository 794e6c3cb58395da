"""What each operation does while the primary is unavailable: shared by the sync and the
async `WithFallback`, with no I/O of its own.

Writes become journal records, decided against the `Overlay` (the
journal's view of each key) under the journal lock, so the answer a caller gets and the
record appended agree even with several writers. Input is checked before anything is
decided, exactly as a store checks it: bad input raises and nothing is journaled.

What the journal cannot know it does not invent:

* a key the journal has never seen has an unknown value: ``get`` of it needs the primary;
  ``update`` of it raises `StoreUnavailable` and writes nothing
  (``fn`` needs the current value);
* a key only *merged* during the outage is partly known: ``merge`` returns the fields
  known locally, and ``get`` raises until the replay completes;
* blind writes to unseen keys are journaled and answered optimistically: ``create``
  and ``delete`` and ``touch`` answer True; a ``create`` that turns out to collide is
  resolved at replay (see `WithFallback`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import attrs

from .._update import apply_update, starting_value
from ..codec import JSONCodec, check_items
from ..entry import TTL, Entry, UpdateFunction, expiry_instant, remaining_ttl, to_seconds
from ..errors import StoreUnavailable
from ..keys import validate_key, validate_keys
from .journal_format import Record

__all__ = [
    "UNKNOWN_TTL",
    "Decision",
    "KeyView",
    "OutageRules",
    "Overlay",
    "copy_value",
    "primary_default_ttl",
]

_T = TypeVar("_T")


# -- the overlay: what the journal says about each key --------------------------------------
# The Journal keeps one up to date as it reads the file; the rules below decide against it.


@attrs.frozen
class KeyView:
    """What the journal knows about one key.

    ``complete``: ``value`` is the whole value (``None``: known to be absent). Otherwise
    ``value`` holds only the fields merged during the outage, over a value the journal has
    never seen (the entry exists, since a merge creates it). ``version`` is ``None`` when
    the primary's version is unknown.
    """

    value: dict[str, Any] | None
    complete: bool
    expires_at: float | None = None
    expiry_known: bool = True
    version: int | None = None

    @property
    def absent(self) -> bool:
        return self.complete and self.value is None


_ABSENT = KeyView(None, True)


class Overlay:
    """Every key the journal mentions, with what it says about it, in journal order."""

    def __init__(self, default_ttl: float | None) -> None:
        self.default_ttl = default_ttl
        self._views: dict[str, KeyView] = {}
        #: Keys with a record that left their value unknown (a touch of an unseen key).
        self._touched: set[str] = set()

    def __contains__(self, key: str) -> bool:
        return key in self._views or key in self._touched

    def view(self, key: str, now: float) -> KeyView | None:
        """The journal's view of ``key`` at ``now``; ``None`` if it knows nothing."""
        view = self._views.get(key)
        if view is None:
            return None
        if view.expiry_known and view.expires_at is not None and view.expires_at <= now:
            return _ABSENT
        return view

    def apply(self, record: Record) -> None:
        """Fold one record in (at the instant it was journaled)."""
        for key in record.touched_keys():
            self._apply_one(key, record)

    def _apply_one(self, key: str, record: Record) -> None:
        before = self.view(key, record.at)
        op = record.op
        if op == "delete":
            self._views[key] = _ABSENT
        elif op in ("set", "set_many") or (op == "create" and not _present(before)):
            value = record.items[key] if record.items is not None else record.value
            self._views[key] = KeyView(value, True, record.expires_at, True, _next_version(before))
        elif op == "merge":
            self._views[key] = self._merged(before, record)
        elif op == "touch":
            if before is None:
                self._touched.add(key)
            elif not before.absent:
                self._views[key] = attrs.evolve(
                    before, expires_at=record.expires_at, expiry_known=True
                )

    def _merged(self, before: KeyView | None, record: Record) -> KeyView:
        patch = record.value or {}
        if before is None or before.absent:
            fields = dict(patch)
        else:
            fields = {**(before.value or {}), **patch}
        if not record.keep_expiry:
            expires_at, known = record.expires_at, True
        elif before is not None and before.absent:  # a new entry gets the default TTL
            known = True
            expires_at = None if self.default_ttl is None else record.at + self.default_ttl
        elif before is not None:
            expires_at, known = before.expires_at, before.expiry_known
        else:
            expires_at, known = None, False
        complete = before is not None and before.complete
        return KeyView(fields, complete, expires_at, known, _next_version(before))


def _present(view: KeyView | None) -> bool:
    return view is not None and not view.absent


def _next_version(before: KeyView | None) -> int | None:
    if before is None or not before.complete:
        return None
    if before.absent:
        return 1
    return None if before.version is None else before.version + 1


def copy_value(value: dict[str, Any]) -> dict[str, Any]:
    """A private copy for a caller: nothing returned is shared with the overlay."""
    return copy.deepcopy(value)


# -- the rules ------------------------------------------------------------------------------

#: Given the overlay and "now": the record to append (or None) and the caller's answer.
Decision = Callable[[Overlay, float], tuple[Record | None, _T]]


class _UnknownTTL:
    def __repr__(self) -> str:
        return "UNKNOWN_TTL"


#: `primary_default_ttl` found nothing.
UNKNOWN_TTL: Any = _UnknownTTL()


def primary_default_ttl(store: object) -> float | None:
    """The default TTL (seconds, or None) that ``store`` applies, or `UNKNOWN_TTL`.

    Looks through wrappers (their ``inner``) for the store's public ``default_ttl``.
    """
    seen: set[int] = set()
    while store is not None and id(store) not in seen:
        seen.add(id(store))
        value = getattr(store, "default_ttl", UNKNOWN_TTL)
        if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
            return None if value is None else float(value)
        store = getattr(store, "inner", None)
    return UNKNOWN_TTL  # type: ignore[no-any-return]


def _unknown(key: str, what: str) -> StoreUnavailable:
    return StoreUnavailable(
        f"the primary store is unavailable and the fallback journal does not know {what} "
        f"of key {key!r}"
    )


class OutageRules:
    """Builds `Decision` callables for writes and answers reads from a view."""

    def __init__(self, codec: JSONCodec, default_ttl: float | None) -> None:
        self.codec = codec
        self.default_ttl = default_ttl

    def _checked(self, key: str, value: Mapping[str, Any]) -> dict[str, Any]:
        validate_key(key)
        return self.codec.decode(self.codec.encode(value), key=key)  # a private, JSON copy

    def _expiry(self, now: float, ttl: TTL | None) -> float | None:
        return expiry_instant(now, ttl, self.default_ttl)

    # -- writes ---------------------------------------------------------------------------

    def set(self, key: str, value: Mapping[str, Any], ttl: TTL | None) -> Decision[None]:
        checked = self._checked(key, value)
        if ttl is not None:
            to_seconds(ttl)

        def decide(overlay: Overlay, now: float) -> tuple[Record | None, None]:
            return Record.new(
                "set", key, now, value=checked, expires_at=self._expiry(now, ttl)
            ), None

        return decide

    def set_many(self, items: Mapping[str, Mapping[str, Any]], ttl: TTL | None) -> Decision[None]:
        checked = {key: self._checked(key, value) for key, value in check_items(items).items()}
        if ttl is not None:
            to_seconds(ttl)

        def decide(overlay: Overlay, now: float) -> tuple[Record | None, None]:
            if not checked:
                return None, None
            expires_at = self._expiry(now, ttl)
            return Record.new("set_many", "", now, items=checked, expires_at=expires_at), None

        return decide

    def create(self, key: str, value: Mapping[str, Any], ttl: TTL | None) -> Decision[bool]:
        checked = self._checked(key, value)
        if ttl is not None:
            to_seconds(ttl)

        def decide(overlay: Overlay, now: float) -> tuple[Record | None, bool]:
            view = overlay.view(key, now)
            if view is not None and not view.absent:
                return None, False
            record = Record.new(
                "create", key, now, value=checked, expires_at=self._expiry(now, ttl)
            )
            return record, True

        return decide

    def merge(
        self, key: str, patch: Mapping[str, Any], ttl: TTL | None
    ) -> Decision[dict[str, Any]]:
        checked = self._checked(key, patch)
        seconds = None if ttl is None else to_seconds(ttl)

        def decide(overlay: Overlay, now: float) -> tuple[Record | None, dict[str, Any]]:
            view = overlay.view(key, now)
            base = {} if view is None or view.value is None else view.value
            result = {**base, **checked}
            self.codec.encode(result)  # the merged value must fit, as on any store
            # "Keep the expiry" is resolved here whenever the journal knows it, so that a
            # replay long after cannot revive an entry that expired in between.
            expires_at: float | None = None
            keep = False
            if seconds is not None:
                expires_at = now + seconds
            elif view is not None and view.absent:
                expires_at = self._expiry(now, None)
            elif view is not None and view.expiry_known:
                expires_at = view.expires_at
            else:
                keep = True
            record = Record.new(
                "merge", key, now, value=checked, expires_at=expires_at, keep_expiry=keep
            )
            return record, copy_value(result)

        return decide

    def update(
        self,
        key: str,
        fn: UpdateFunction,
        ttl: TTL | None,
        default: Mapping[str, Any] | None,
    ) -> Decision[dict[str, Any]]:
        validate_key(key)
        seconds = None if ttl is None else to_seconds(ttl)

        def decide(overlay: Overlay, now: float) -> tuple[Record | None, dict[str, Any]]:
            view = overlay.view(key, now)
            if view is None or not view.complete:
                raise _unknown(key, "the current value")
            current = None if view.value is None else copy_value(view.value)
            value, _ = apply_update(self.codec, key, fn, starting_value(key, current, default))
            expires_at: float | None
            if seconds is not None:
                expires_at = now + seconds
            elif view.absent:
                expires_at = self._expiry(now, None)
            else:
                expires_at = view.expires_at
            record = Record.new("set", key, now, value=value, expires_at=expires_at)
            return record, copy_value(value)

        return decide

    def delete(self, key: str) -> Decision[bool]:
        validate_key(key)

        def decide(overlay: Overlay, now: float) -> tuple[Record | None, bool]:
            view = overlay.view(key, now)
            if view is not None and view.absent:
                return None, False
            return Record.new("delete", key, now), True

        return decide

    def touch(self, key: str, ttl: TTL | None) -> Decision[bool]:
        validate_key(key)
        if ttl is not None:
            to_seconds(ttl)

        def decide(overlay: Overlay, now: float) -> tuple[Record | None, bool]:
            view = overlay.view(key, now)
            if view is not None and view.absent:
                return None, False
            return Record.new("touch", key, now, expires_at=self._expiry(now, ttl)), True

        return decide

    # -- reads (``view`` is not None: the journal mentions the key) -------------------------

    @staticmethod
    def value(key: str, view: KeyView) -> dict[str, Any] | None:
        if not view.complete:
            raise _unknown(key, "the whole value (only fields merged during the outage)")
        return None if view.value is None else copy_value(view.value)

    @staticmethod
    def merged_over(view: KeyView, primary: dict[str, Any] | None) -> dict[str, Any]:
        """A key only merged in the journal, read while the primary answers (another
        replay is running): the journal's fields over the primary's value, which is what
        the replay of those merges will leave."""
        return {**(primary or {}), **copy_value(view.value or {})}

    @staticmethod
    def entry(key: str, view: KeyView) -> Entry | None:
        if view.absent:
            return None
        if not view.complete or view.version is None:
            raise _unknown(key, "the version")
        assert view.value is not None
        return Entry(copy_value(view.value), view.version, view.expires_at)

    @staticmethod
    def exists(view: KeyView) -> bool:
        return not view.absent

    @staticmethod
    def ttl(key: str, view: KeyView, now: float) -> float | None:
        if view.absent:
            return None
        if not view.expiry_known:
            raise _unknown(key, "the expiry")
        return remaining_ttl(view.expires_at, now)

    @staticmethod
    def keys(keys: Iterable[str]) -> list[str]:
        return validate_keys(keys)
