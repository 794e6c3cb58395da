"""The codec: JSON-compatible mappings to bytes and back, strictly.

Every store encodes on write (even the memory store), so a value that works on one backend
works on all of them, and a caller never shares a mutable object with the store. The rules
are the same whether stdlib `json` or orjson (the ``fast`` extra) does the encoding:

* the top-level value is a mapping with ``str`` keys;
* inside it: ``dict`` (``str`` keys only), ``list``/``tuple`` (read back as lists), ``str``,
  ``bool``, ``None``, ``int`` from -2**63 to 2**64-1, finite ``float``;
* nothing is coerced silently: an ``int`` key, a ``NaN`` or a ``set`` raises
  `SerializationError` naming where it was found;
* the encoded size is at most ``max_payload_bytes`` (default 1 MiB), else
  `PayloadTooLarge`.

```pycon
>>> codec = JSONCodec()
>>> codec.decode(codec.encode({"step": 2, "tags": ("a", "b")}), key="k")
{'step': 2, 'tags': ['a', 'b']}
>>> codec.encode({"bad": float("nan")})
Traceback (most recent call last):
...
sessionkit.errors.SerializationError: value['bad']: nan is not JSON-compatible (NaN and ...)

```
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from .errors import ConfigurationError, CorruptValue, PayloadTooLarge, SerializationError

__all__ = ["DEFAULT_MAX_PAYLOAD_BYTES", "JSONCodec", "check_items", "check_value", "default_codec"]

#: The largest encoded value a store accepts unless configured otherwise.
DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024

# orjson refuses deeper nesting; the walk uses the same bound so both encoders agree.
_MAX_DEPTH = 254
# The integers orjson encodes (signed and unsigned 64-bit); stdlib json is held to the same.
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1

_orjson: Any
try:  # the `fast` extra
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None


class _Invalid(Exception):
    """Raised inside the walk; carries the path back out as it unwinds."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.path: list[str] = []


def _check(value: object, depth: int) -> None:
    # Exact type checks first: they are the common case and the cheapest.
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return
    if kind is int:
        if not _INT_MIN <= value <= _INT_MAX:  # type: ignore[operator]
            raise _Invalid(f"{value} is outside the 64-bit integer range")
        return
    if kind is float:
        if not math.isfinite(value):  # type: ignore[arg-type]
            raise _Invalid(f"{value} is not JSON-compatible (NaN and infinities are not allowed)")
        return
    if depth >= _MAX_DEPTH:
        raise _Invalid(f"nesting is deeper than {_MAX_DEPTH} levels")
    if kind is dict:
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str:
                raise _Invalid(f"key {key!r} is a {type(key).__name__}; mapping keys must be str")
            try:
                _check(item, depth + 1)
            except _Invalid as error:
                error.path.append(f"[{key!r}]")
                raise
        return
    if kind is list or kind is tuple:
        for index, item in enumerate(value):  # type: ignore[arg-type]
            try:
                _check(item, depth + 1)
            except _Invalid as error:
                error.path.append(f"[{index}]")
                raise
        return
    # Subclasses (an IntEnum, a StrEnum, an OrderedDict) encode as their base type with
    # either encoder: accept them the same way, through the same checks.
    if isinstance(value, dict):
        _check(dict(value), depth)
        return
    if isinstance(value, (list, tuple)):
        _check(list(value), depth)
        return
    for scalar in (int, float, str):  # (bool cannot be subclassed: handled above)
        if isinstance(value, scalar):
            _check(scalar(value), depth)
            return
    raise _Invalid(f"{type(value).__name__} {value!r} is not JSON-compatible")


def check_items(items: object) -> Mapping[Any, Any]:
    """Return ``items`` if it is a mapping (of keys to values, as ``set_many`` takes).

    Raises `SerializationError` otherwise (a list of pairs, ``None``), as a value that is
    not a mapping does; the keys and values themselves are checked by the store.
    """
    if not isinstance(items, Mapping):
        raise SerializationError(
            "set_many takes a mapping of keys to values (a dict), "
            f"not {type(items).__name__}: {items!r:.80}"
        )
    return items


def check_value(value: object) -> dict[str, Any]:
    """Check that ``value`` is a JSON-compatible mapping; return it as a ``dict``.

    Raises `SerializationError` naming the first offending place.
    """
    if type(value) is not dict:
        if not isinstance(value, Mapping):
            raise SerializationError(
                f"a session value is a mapping (a dict), not {type(value).__name__}: {value!r}"
            )
        value = dict(value)
    try:
        _check(value, 0)
    except _Invalid as error:
        where = "value" + "".join(reversed(error.path))
        raise SerializationError(f"{where}: {error.reason}") from None
    return value


class JSONCodec:
    """Encodes session values to UTF-8 JSON bytes and decodes them back.

    ``max_payload_bytes=None`` lifts the size limit. ``use_orjson`` picks the encoder; by
    default orjson is used when installed. Both give the same bytes for the same value up to
    whitespace, and accept and reject exactly the same values.
    """

    __slots__ = ("_dumps", "_loads", "max_payload_bytes", "uses_orjson")

    def __init__(
        self,
        *,
        max_payload_bytes: int | None = DEFAULT_MAX_PAYLOAD_BYTES,
        use_orjson: bool | None = None,
    ) -> None:
        if max_payload_bytes is not None and max_payload_bytes < 1:
            raise ValueError("max_payload_bytes must be a positive number of bytes, or None")
        if use_orjson and _orjson is None:
            raise ConfigurationError("orjson is not installed: pip install 'sessionkit[fast]'")
        self.max_payload_bytes = max_payload_bytes
        self.uses_orjson = _orjson is not None if use_orjson is None else use_orjson
        self._dumps: Callable[[Any], bytes]
        self._loads: Callable[[bytes | str], Any]
        if self.uses_orjson:
            assert _orjson is not None
            self._dumps = _orjson.dumps
            self._loads = _orjson.loads
        else:
            encode = json.JSONEncoder(
                ensure_ascii=False, allow_nan=False, separators=(",", ":")
            ).encode
            self._dumps = lambda value: encode(value).encode()
            self._loads = json.loads

    def encode(self, value: object) -> bytes:
        """Check ``value`` and encode it; raise before anything could be written."""
        found = self._encode_fast(value) if self.uses_orjson else None
        data = self._encode_checked(value) if found is None else found[0]
        self._check_size(data)
        return data

    def encode_and_copy(self, value: object) -> tuple[bytes, dict[str, Any]]:
        """`encode`, and what a reader of those bytes gets (a private copy, tuples as
        lists), for a store that hands back what it wrote. On the fast path that copy is
        the read-back the check made anyway: no second decode."""
        found = self._encode_fast(value) if self.uses_orjson else None
        if found is None:
            data = self._encode_checked(value)
            self._check_size(data)
            return data, self._loads(data)
        self._check_size(found[0])
        return found

    def _check_size(self, data: bytes) -> None:
        if self.max_payload_bytes is not None and len(data) > self.max_payload_bytes:
            raise PayloadTooLarge(len(data), self.max_payload_bytes)

    def _encode_fast(self, value: object) -> tuple[bytes, dict[str, Any]] | None:
        """orjson's bytes and their read-back, if it equals ``value``; else None (take the
        walk).

        orjson rejects most bad values itself (non-str keys, ints beyond 64 bits, sets,
        objects, deep nesting) but coerces a few silently (NaN to null, a UUID to a str).
        Any coercion makes the decoded value differ, so one C-level comparison catches
        them all, at about half the cost of walking the value in Python. Tuples also
        differ (they read back as lists): they take the walk, which accepts them.
        """
        if type(value) is not dict:
            return None
        try:
            data: bytes = self._dumps(value)
        except TypeError:  # orjson.JSONEncodeError
            return None
        copy = self._loads(data)
        return (data, copy) if copy == value else None

    def _encode_checked(self, value: object) -> bytes:
        checked = check_value(value)
        try:
            return self._dumps(checked)
        except (TypeError, ValueError) as error:  # a lone surrogate in a str
            raise SerializationError(f"value cannot be encoded as UTF-8 JSON: {error}") from None

    def decode(self, data: bytes | str, *, key: str) -> dict[str, Any]:
        """Decode stored bytes; anything that is not a JSON object is `CorruptValue`."""
        try:
            value = self._loads(data)
        except ValueError as error:  # json.JSONDecodeError and orjson.JSONDecodeError
            raise CorruptValue(key, f"not valid JSON ({error})") from None
        if type(value) is not dict:
            raise CorruptValue(key, f"expected a JSON object, found {type(value).__name__}")
        return value

    def __repr__(self) -> str:
        encoder = "orjson" if self.uses_orjson else "json"
        return f"JSONCodec(encoder={encoder!r}, max_payload_bytes={self.max_payload_bytes!r})"


#: The codec stores use unless they are given another.
default_codec = JSONCodec()
