"""Tagged JSON: Python values that JSON cannot hold, as JSON, with exact round trips.

Pickle's reach for the values bots keep, without pickle's danger: decoding never runs
code other than the constructors of the types listed here and of the classes the
application allowed (registered, or under an allowed import path). Used by the
python-telegram-bot persistence; usable on its own:

```pycon
>>> import datetime
>>> codec = TaggedJSON()
>>> value = {"seen": {1, 2}, "at": datetime.date(2024, 5, 1), 7: ("a", "b")}
>>> encoded = codec.encode(value)
>>> codec.decode(encoded) == value
True

```

What it encodes (everything else raises `TaggedJSONError` naming the path inside the
value):

* JSON's own values: ``None``, ``bool``, ``str``, ``int`` (any size), ``float`` (NaN and
  infinities too), ``list``, ``dict``;
* ``tuple``, ``set``, ``frozenset``, ``bytes``;
* dicts with any keys the codec can encode (``int``, ``tuple``, ...), key types kept;
* ``datetime.datetime`` (naive, fixed-offset, UTC or ``zoneinfo.ZoneInfo``; ``fold``
  kept), ``datetime.date``, ``datetime.time``, ``datetime.timedelta``;
* ``uuid.UUID``, ``decimal.Decimal``;
* members of `enum.Enum` subclasses, instances of dataclasses and of attrs classes whose
  class is registered (``types=``) or lives under an allowed import path
  (``allowed_paths=``: a module, ``"myapp.states"``, or one class,
  ``"myapp.states.Step"``). They are rebuilt like pickle rebuilds them, without calling
  ``__init__``: every field is set back as it was.

Subclasses of the built-in containers are refused rather than silently turned into
their base class (an ``OrderedDict`` or a ``defaultdict`` would not come back as one).

The encoding: a JSON object with the key ``"$sk"`` is a tagged value; a plain dict that
has a ``"$sk"`` key itself is written in the tagged ``dict`` form, so no value is ever
mistaken for another.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import decimal
import enum
import importlib
import json
import math
import uuid
from collections.abc import Iterable
from typing import Any

from ..errors import CorruptValue, SerializationError

__all__ = ["TAG", "TaggedJSON", "TaggedJSONError"]

#: The key that marks a tagged value.
TAG = "$sk"

# Ints JSON stores hold exactly (the store codec's 64-bit range); others go as strings.
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1
_MAX_DEPTH = 120  # each tagged level is two JSON levels; the store codec allows 254

try:
    import attrs as _attrs
except ImportError:  # pragma: no cover - attrs is a dependency of sessionkit's extras
    _attrs = None  # type: ignore[assignment]

try:
    from zoneinfo import ZoneInfo as _ZoneInfo
except ImportError:  # pragma: no cover - Python 3.9+
    _ZoneInfo = None  # type: ignore[assignment,misc]


class TaggedJSONError(SerializationError):
    """A value the tagged JSON codec cannot encode; ``path`` is where, inside the value."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class _Invalid(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.path: list[str] = []


class _NotAllowed(Exception):
    pass


def _type_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


class TaggedJSON:
    """Encodes Python values to JSON-compatible values and back (see the module docs).

    Args:
        types: Enum, dataclass and attrs classes the application stores.
        allowed_paths: Import paths (modules or classes) whose Enum, dataclass and attrs
            classes may be stored and rebuilt. A class found under an allowed path is
            imported when a value is decoded: list only the application's own modules.
    """

    __slots__ = ("_allowed", "_by_path")

    def __init__(self, *, types: Iterable[type] = (), allowed_paths: Iterable[str] = ()) -> None:
        self._by_path: dict[str, type] = {}
        for cls in types:
            if not isinstance(cls, type) or _kind_of_class(cls) is None:
                raise TypeError(f"types= takes Enum, dataclass and attrs classes, not {cls!r}")
            self._by_path[_type_path(cls)] = cls
        self._allowed = tuple(str(path).strip(".") for path in allowed_paths)
        if any(not path for path in self._allowed):
            raise ValueError("an allowed path is a module or class import path, not empty")

    # -- encoding -------------------------------------------------------------------------

    def encode(self, value: object, *, where: str = "value") -> Any:
        """``value`` as a JSON-compatible value; raises `TaggedJSONError` naming the path
        (starting with ``where``) of the first value it cannot encode."""
        try:
            return self._encode(value, 0)
        except _Invalid as error:
            raise TaggedJSONError(where + "".join(reversed(error.path)), error.reason) from None

    def _encode(self, value: object, depth: int) -> Any:
        kind = type(value)
        if value is None or kind is str or kind is bool:
            return value
        if kind is int:
            if _INT_MIN <= value <= _INT_MAX:  # type: ignore[operator]
                return value
            return {TAG: "int", "v": str(value)}
        if kind is float:
            if math.isfinite(value):  # type: ignore[arg-type]
                return value
            return {TAG: "float", "v": repr(value)}
        if depth >= _MAX_DEPTH:
            raise _Invalid(f"nesting is deeper than {_MAX_DEPTH} levels")
        if kind is dict:
            items: dict[Any, Any] = value  # type: ignore[assignment]
            if TAG not in items and all(type(key) is str for key in items):
                return {key: self._item(item, f"[{key!r}]", depth) for key, item in items.items()}
            return {
                TAG: "dict",
                "items": [
                    [
                        self._item(key, f"<key {key!r}>", depth),
                        self._item(item, f"[{key!r}]", depth),
                    ]
                    for key, item in items.items()
                ],
            }
        if kind is list or kind is tuple:
            sequence: list[Any] | tuple[Any, ...] = value  # type: ignore[assignment]
            encoded = [self._item(item, f"[{i}]", depth) for i, item in enumerate(sequence)]
            return encoded if kind is list else {TAG: "tuple", "items": encoded}
        if kind is set or kind is frozenset:
            members: set[Any] | frozenset[Any] = value  # type: ignore[assignment]
            encoded = [self._item(item, "<set item>", depth) for item in members]
            # Sorted by their JSON, so equal sets always encode the same way.
            encoded.sort(key=lambda item: json.dumps(item, sort_keys=True))
            return {TAG: kind.__name__, "items": encoded}
        if kind is bytes:
            return {TAG: "bytes", "v": base64.b64encode(value).decode()}  # type: ignore[arg-type]
        if kind is datetime.datetime:
            return self._datetime(value)  # type: ignore[arg-type]
        if kind is datetime.date:
            return {TAG: "date", "v": value.isoformat()}  # type: ignore[attr-defined]
        if kind is datetime.time:
            return self._time(value)  # type: ignore[arg-type]
        if kind is datetime.timedelta:
            delta: datetime.timedelta = value  # type: ignore[assignment]
            return {TAG: "timedelta", "v": [delta.days, delta.seconds, delta.microseconds]}
        if kind is uuid.UUID:
            return {TAG: "uuid", "v": str(value)}
        if kind is decimal.Decimal:
            return {TAG: "decimal", "v": str(value)}
        class_kind = _kind_of_class(kind)
        if class_kind is not None:
            return self._object(value, kind, class_kind, depth)
        raise _Invalid(
            f"{kind.__name__} {_short_repr(value)} cannot be stored: the tagged JSON codec "
            "takes JSON values, tuples, sets, bytes, dates and times, UUIDs, Decimals, and "
            "Enum, dataclass and attrs classes it was given (types=... or allowed_paths=...)"
        )

    def _item(self, value: object, step: str, depth: int) -> Any:
        try:
            return self._encode(value, depth + 1)
        except _Invalid as error:
            error.path.append(step)
            raise

    def _datetime(self, value: datetime.datetime) -> Any:
        tagged: dict[str, Any] = {TAG: "datetime", "v": value.replace(tzinfo=None).isoformat()}
        tz = value.tzinfo
        if tz is not None:
            tagged["tz"] = _encode_tz(tz, value)
        if value.fold:
            tagged["fold"] = 1
        return tagged

    def _time(self, value: datetime.time) -> Any:
        tagged: dict[str, Any] = {TAG: "time", "v": value.replace(tzinfo=None).isoformat()}
        if value.tzinfo is not None:
            tagged["tz"] = _encode_tz(value.tzinfo, None)
        if value.fold:
            tagged["fold"] = 1
        return tagged

    def _check_allowed(self, cls: type) -> str:
        path = _type_path(cls)
        if self._by_path.get(path) is cls:
            return path
        if "<locals>" not in path and any(
            path == allowed or path.startswith(allowed + ".") for allowed in self._allowed
        ):
            return path
        raise _Invalid(
            f"{path} is not a registered type: pass it in types=[...] or its module in "
            "allowed_paths=[...] (classes defined inside functions must be registered)"
        )

    def _object(self, value: Any, cls: type, class_kind: str, depth: int) -> Any:
        path = self._check_allowed(cls)
        if class_kind == "enum":
            return {TAG: "enum", "type": path, "v": value.name}
        names = _field_names(cls, class_kind)
        fields = {}
        for name in names:
            try:
                item = getattr(value, name)
            except AttributeError:
                continue  # a field that was never set (init=False, no default)
            fields[name] = self._item(item, f".{name}", depth)
        return {TAG: class_kind, "type": path, "fields": fields}

    # -- decoding -------------------------------------------------------------------------

    def decode(self, value: Any, *, key: str = "<value>") -> Any:
        """The Python value ``encode`` was given; `CorruptValue` (naming ``key``) if
        ``value`` is not something ``encode`` returns or names a class not allowed."""
        try:
            return self._decode(value)
        except _NotAllowed as error:
            raise CorruptValue(key, str(error)) from None
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
            raise CorruptValue(key, f"not tagged JSON: {error!r}") from None

    def _decode(self, value: Any) -> Any:
        kind = type(value)
        if kind is list:
            return [self._decode(item) for item in value]
        if kind is not dict:
            return value
        tag = value.get(TAG)
        if tag is None:
            return {key: self._decode(item) for key, item in value.items()}
        if tag == "dict":
            return {_hashable(self._decode(k)): self._decode(v) for k, v in value["items"]}
        if tag == "tuple":
            return tuple(self._decode(item) for item in value["items"])
        if tag == "set":
            return {_hashable(self._decode(item)) for item in value["items"]}
        if tag == "frozenset":
            return frozenset(_hashable(self._decode(item)) for item in value["items"])
        if tag == "int":
            return int(value["v"])
        if tag == "float":
            return float(value["v"])
        if tag == "bytes":
            return base64.b64decode(value["v"], validate=True)
        if tag == "datetime":
            moment = datetime.datetime.fromisoformat(value["v"])
            if "tz" in value:
                moment = moment.replace(tzinfo=_decode_tz(value["tz"]))
            return moment.replace(fold=value.get("fold", 0))
        if tag == "date":
            return datetime.date.fromisoformat(value["v"])
        if tag == "time":
            clock = datetime.time.fromisoformat(value["v"])
            if "tz" in value:
                clock = clock.replace(tzinfo=_decode_tz(value["tz"]))
            return clock.replace(fold=value.get("fold", 0))
        if tag == "timedelta":
            days, seconds, microseconds = value["v"]
            return datetime.timedelta(days=days, seconds=seconds, microseconds=microseconds)
        if tag == "uuid":
            return uuid.UUID(value["v"])
        if tag == "decimal":
            return decimal.Decimal(value["v"])
        if tag in ("enum", "dataclass", "attrs"):
            cls = self._class_for(value["type"], tag)
            if tag == "enum":
                return cls[value["v"]]  # type: ignore[index]
            obj: Any = object.__new__(cls)
            for name, item in value["fields"].items():
                object.__setattr__(obj, name, self._decode(item))
            return obj
        raise ValueError(f"unknown tag {tag!r}")

    def _class_for(self, path: str, tag: str) -> type:
        cls = self._by_path.get(path)
        if cls is None:
            if not any(
                path == allowed or path.startswith(allowed + ".") for allowed in self._allowed
            ):
                raise _NotAllowed(
                    f"the stored value names {path}, which is neither registered nor under "
                    "an allowed path: register it (types=...) to read it back"
                )
            cls = _import(path)
        if _kind_of_class(cls) != tag:
            raise ValueError(f"{path} is not a{'n' if tag[0] in 'ae' else ''} {tag} class")
        return cls


def _kind_of_class(cls: type) -> str | None:
    if issubclass(cls, enum.Enum):
        return "enum"
    if dataclasses.is_dataclass(cls):
        return "dataclass"
    if _attrs is not None and _attrs.has(cls):
        return "attrs"
    return None


def _field_names(cls: type, class_kind: str) -> list[str]:
    if class_kind == "dataclass":
        return [field.name for field in dataclasses.fields(cls)]
    return [field.name for field in _attrs.fields(cls)]


def _encode_tz(tz: datetime.tzinfo, moment: datetime.datetime | None) -> Any:
    if tz is datetime.timezone.utc:
        return "UTC"
    if _ZoneInfo is not None and type(tz) is _ZoneInfo and tz.key is not None:
        return {"zone": tz.key}
    if type(tz) is datetime.timezone:
        offset = tz.utcoffset(None)
        name = tz.tzname(None)
        encoded: dict[str, Any] = {"offset": offset.total_seconds()}
        if name != datetime.timezone(offset).tzname(None):
            encoded["name"] = name
        return encoded
    raise _Invalid(
        f"the time zone {tz!r} ({type(tz).__name__}) cannot be stored: use "
        "datetime.timezone or zoneinfo.ZoneInfo"
    )


def _decode_tz(encoded: Any) -> datetime.tzinfo:
    if encoded == "UTC":
        return datetime.timezone.utc
    if "zone" in encoded:
        if _ZoneInfo is None:  # pragma: no cover
            raise ValueError("zoneinfo is not available")
        return _ZoneInfo(encoded["zone"])
    offset = datetime.timedelta(seconds=encoded["offset"])
    if "name" in encoded:
        return datetime.timezone(offset, encoded["name"])
    return datetime.timezone(offset)


def _hashable(value: Any) -> Any:
    hash(value)  # a TypeError here is a damaged record: caught by decode
    return value


def _import(path: str) -> type:
    parts = path.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        obj: Any = module
        for name in parts[split:]:
            obj = getattr(obj, name)
        if not isinstance(obj, type):
            raise TypeError(f"{path} is not a class")
        return obj
    raise ValueError(f"cannot import {path}")


def _short_repr(value: object) -> str:
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not hide the real error
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= 80 else text[:77] + "..."
