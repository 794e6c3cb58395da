"""TTL policies: when a namespace's sessions expire, as pure arithmetic on instants.

Three kinds:

* ``TTLPolicy.none()``: the namespace sets no TTL; entries follow the store's
  ``default_ttl`` (never expire with the default, ``None``).
* ``TTLPolicy.absolute(ttl)``: a session expires ``ttl`` after it was created (``put``,
  ``create``); later updates do not move the expiry.
* ``TTLPolicy.sliding(ttl, on_read=..., on_write=..., max_lifetime=...)``: every write
  (and/or read, as configured) restarts the ``ttl``; with ``max_lifetime`` the expiry is
  capped at *created + max_lifetime*, however active the session is.

The creation instant of a session lives in the stored value's metadata, so the cap holds
across processes and restarts.

```pycon
>>> policy = TTLPolicy.sliding(7200, on_read=False, max_lifetime=3 * 3600)
>>> policy.initial_ttl()
7200.0
>>> policy.ttl_after_write(now=1000.0 + 9000, created_at=1000.0)  # 30 min of lifetime left
1800.0

```
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

import attrs

from ..entry import TTL, to_seconds
from ..errors import InvalidPolicy

__all__ = ["InvalidPolicy", "TTLPolicy"]

PolicyKind = Literal["none", "absolute", "sliding"]


@attrs.frozen
class TTLPolicy:
    """How long a namespace's sessions live. Build one with the class methods.

    Built directly, the fields are checked: ``TTLPolicy("sliding")`` (no ``ttl``) is an
    `InvalidPolicy` at once, not a failure at the first write. A ``ttl`` or
    ``max_lifetime`` that is not positive, finite seconds is an
    `InvalidTTL`.
    """

    kind: PolicyKind
    ttl: float | None = None
    max_lifetime: float | None = None
    renew_on_read: bool = False
    renew_on_write: bool = False

    def __attrs_post_init__(self) -> None:
        if self.kind not in ("none", "absolute", "sliding"):
            raise InvalidPolicy(
                f"a TTL policy's kind is 'none', 'absolute' or 'sliding', not {self.kind!r}"
            )
        for name in ("ttl", "max_lifetime"):
            value = getattr(self, name)
            if value is not None:
                to_seconds(value)  # InvalidTTL unless positive, finite seconds
        for name in ("renew_on_read", "renew_on_write"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidPolicy(f"{name} is a bool, not {getattr(self, name)!r}")
        renews = self.renew_on_read or self.renew_on_write
        if self.kind == "none":
            if self.ttl is not None or self.max_lifetime is not None or renews:
                raise InvalidPolicy(
                    "TTLPolicy.none() has no ttl, max_lifetime or renewal; for a TTL use "
                    "TTLPolicy.absolute or TTLPolicy.sliding"
                )
            return
        if self.ttl is None:
            raise InvalidPolicy(
                f"a {self.kind} TTL policy needs a ttl: use TTLPolicy.{self.kind}(ttl, ...)"
            )
        if self.kind == "absolute":
            if self.max_lifetime is not None or renews:
                raise InvalidPolicy(
                    "an absolute TTL policy neither renews nor has a max_lifetime (its ttl is "
                    "the lifetime); for renewals use TTLPolicy.sliding"
                )
            return
        if not renews:
            raise InvalidPolicy(
                "a sliding TTL renews on reads, writes or both; with neither, use "
                "TTLPolicy.absolute"
            )
        if self.max_lifetime is not None and self.max_lifetime < self.ttl:
            raise InvalidPolicy(
                f"max_lifetime ({_show(self.max_lifetime)}) is shorter than the sliding ttl "
                f"({_show(self.ttl)}): every session would be capped at once"
            )

    @classmethod
    def none(cls) -> TTLPolicy:
        """No TTL of the namespace's own: the store's ``default_ttl`` applies."""
        return cls("none")

    @classmethod
    def absolute(cls, ttl: TTL) -> TTLPolicy:
        """Expire ``ttl`` after creation, whatever happens meanwhile."""
        return cls("absolute", ttl=to_seconds(ttl))

    @classmethod
    def sliding(
        cls,
        ttl: TTL,
        *,
        on_read: bool = True,
        on_write: bool = True,
        max_lifetime: TTL | None = None,
    ) -> TTLPolicy:
        """Restart ``ttl`` on every read and/or write, never past ``max_lifetime``."""
        cap = None if max_lifetime is None else to_seconds(max_lifetime)
        return cls("sliding", to_seconds(ttl), cap, bool(on_read), bool(on_write))

    @property
    def needs_created_at(self) -> bool:
        """Whether renewing needs the session's creation instant (to apply the cap)."""
        return self.kind == "sliding" and self.max_lifetime is not None

    def initial_ttl(self) -> float | None:
        """The TTL of a new session (``None``: the store's default)."""
        if self.ttl is None:
            return None
        return self.ttl if self.max_lifetime is None else min(self.ttl, self.max_lifetime)

    def ttl_after_write(self, now: float, created_at: float | None) -> float | None:
        """The TTL a write to an existing session sets, ``None`` to keep its expiry.

        A result ``<= 0`` means the session is past its maximum lifetime.
        """
        return self._renewal(self.renew_on_write, now, created_at)

    def ttl_after_read(self, now: float, created_at: float | None) -> float | None:
        """The TTL a read of an existing session sets, ``None`` to leave it alone."""
        return self._renewal(self.renew_on_read, now, created_at)

    def expired_at(self, now: float, created_at: float | None) -> bool:
        """Whether a session created at ``created_at`` is past its maximum lifetime."""
        if self.max_lifetime is None or created_at is None:
            return False
        return now >= created_at + self.max_lifetime

    def _renewal(self, renews: bool, now: float, created_at: float | None) -> float | None:
        if self.kind != "sliding" or not renews or self.ttl is None:
            return None
        if self.max_lifetime is None or created_at is None:
            return self.ttl
        return min(self.ttl, round(created_at + self.max_lifetime - now, 6))


def _show(ttl: TTL | None) -> str:
    return str(ttl) if isinstance(ttl, timedelta) else f"{ttl!r} s"
