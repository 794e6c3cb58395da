"""attrs objects to stored values and back (cattrs), with the namespace's metadata.

A stored value is the model's unstructured fields plus one reserved key, ``_sessionkit``,
holding metadata (today: ``created_at``, seconds since the epoch). Keeping the fields at
the top level means the stored JSON is what the app's own data looks like, in Redis or SQL.

Schema evolution is cattrs' behaviour, made explicit: keys the class no longer has are
ignored, fields added with a default take it. Anything else that cannot be structured is
`CorruptSession` (a `CorruptValue`) naming the namespace,
the id and the field; the stored value is not touched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, get_origin

import attrs
import cattrs
from cattrs.cols import (
    iterable_unstructure_factory,
    list_structure_factory,
    mapping_structure_factory,
)
from cattrs.preconf.json import make_converter

from ..errors import ConfigurationError, CorruptSession, SerializationError
from ..observability.events import EventLogger, StoreEvent, key_digest

__all__ = ["META_KEY", "CorruptSession", "ModelCodec", "default_converter", "make_strict_converter"]

T = TypeVar("T")

_log = EventLogger("sessionkit.namespace")

#: The reserved top-level key of every stored value; no model field may use it.
META_KEY = "_sessionkit"


def make_strict_converter() -> cattrs.Converter:
    """cattrs' JSON preset, made strict where it would otherwise guess.

    The preset writes typed datetimes as ISO 8601 strings, sets and tuples as lists and
    typed bytes as base85. On top of it:

    * loading never coerces: ``str``, ``int``, ``float``, ``bool``, ``list`` and ``dict``
      fields take only values of that JSON type (an int is a valid float), so a stored
      ``1.7`` is not silently read as the int ``1``, nor ``5`` as the string ``"5"``;
    * values typed ``Any`` (``dict[str, Any]`` payloads) are written as they are, so the
      codec rejects what JSON cannot hold (bytes, datetimes) instead of their being turned
      into strings that would read back as another type;
    * writing a ``str`` (or bytes, or a mapping) where a list or set belongs is an error,
      not a list of its characters.
    """
    converter = make_converter()
    converter.register_unstructure_hook_func(lambda type_: type_ is Any, lambda value: value)
    converter.register_structure_hook(str, _exactly(str, lambda v: isinstance(v, str)))
    converter.register_structure_hook(bool, _exactly(bool, lambda v: isinstance(v, bool)))
    converter.register_structure_hook(int, _exactly(int, _is_int))
    converter.register_structure_hook(
        float, _exactly(float, lambda v: _is_int(v) or isinstance(v, float))
    )
    converter.register_unstructure_hook_factory(
        _is_collection, _checked_collection_unstructure(converter)
    )
    for origin, factory, json_type in (
        (list, list_structure_factory, list),
        (dict, mapping_structure_factory, dict),
    ):
        converter.register_structure_hook_factory(
            _is_type_of(origin), _checked_container(converter, factory, json_type)
        )
    return converter


def _is_type_of(origin: type) -> Callable[[Any], bool]:
    def matches(type_: Any) -> bool:
        return type_ is origin or get_origin(type_) is origin

    return matches


_COLLECTIONS = (list, set, frozenset)


def _is_collection(type_: Any) -> bool:
    return type_ in _COLLECTIONS or get_origin(type_) in _COLLECTIONS


def _checked_collection_unstructure(
    converter: cattrs.Converter,
) -> Callable[[Any], Callable[[Any], Any]]:
    def make(type_: Any) -> Callable[[Any], Any]:
        inner = iterable_unstructure_factory(type_, converter)
        kind = (get_origin(type_) or type_).__name__

        def unstructure(value: Any) -> Any:
            if isinstance(value, (str, bytes, bytearray, dict)):
                raise TypeError(f"expected {kind}, found {type(value).__name__} {value!r}")
            return inner(value)

        return unstructure

    return make


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _exactly(kind: type, accepts: Callable[[object], bool]) -> Callable[[object, type], Any]:
    def structure(value: object, _: type) -> Any:
        if not accepts(value):
            raise TypeError(f"expected {kind.__name__}, found {type(value).__name__} {value!r}")
        return kind(value)

    return structure


def _checked_container(
    converter: cattrs.Converter, factory: Callable[[Any, Any], Any], json_type: type
) -> Callable[[Any], Callable[[object, type], Any]]:
    def make(type_: Any) -> Callable[[object, type], Any]:
        inner = factory(type_, converter)

        def structure(value: object, target: type) -> Any:
            if not isinstance(value, json_type):
                raise TypeError(
                    f"expected {json_type.__name__}, found {type(value).__name__} {value!r}"
                )
            return inner(value, target)

        return structure

    return make


#: The converter namespaces use unless given another (see `make_strict_converter`).
default_converter = make_strict_converter()


@attrs.frozen
class ModelCodec(Generic[T]):
    """Structures and unstructures one attrs class."""

    model: type[T]
    converter: cattrs.Converter = default_converter

    def __attrs_post_init__(self) -> None:
        if not attrs.has(self.model):
            raise ConfigurationError(
                f"a namespace holds attrs classes; {self.model!r} is not one (decorate it with "
                "@attrs.define)"
            )
        names = {field.name for field in attrs.fields(self.model)}
        if META_KEY in names:
            raise ConfigurationError(
                f"{self.model.__name__} has a field named {META_KEY!r}, which namespaces "
                "reserve for their metadata"
            )

    def dump(self, obj: object, created_at: float, *, namespace: str) -> dict[str, Any]:
        """The value to store for ``obj``; `SerializationError` if it could not be read.

        The unstructured fields are structured back with the same converter (one call), so
        an object with a field of the wrong type (``total="5"`` for an ``int``) fails here,
        naming ``namespace`` and the field, before anything is written: stored, it would be
        a `CorruptSession` on every read.
        """
        if not isinstance(obj, self.model):
            raise SerializationError(
                f"namespace {namespace!r}: expected a {self.model.__name__}, got "
                f"{type(obj).__name__}: {obj!r}"
            )
        try:
            fields = self.converter.unstructure(obj, unstructure_as=self.model)
        except Exception as error:  # a field holds something its type cannot write
            field, reason = self._unwritable_field(obj, error)
            where = f"field {field!r}" if field else "the value"
            raise SerializationError(
                f"namespace {namespace!r}: cannot store this {self.model.__name__}: {where} "
                f"cannot be written ({reason}); nothing was written"
            ) from error
        try:
            self.converter.structure(fields, self.model)
        except Exception as error:  # cattrs raises many kinds; all mean "cannot read back"
            field, reason = _first_failure(error)
            where = f"field {field!r}" if field else "the value"
            raise SerializationError(
                f"namespace {namespace!r}: cannot store this {self.model.__name__}: {where} "
                f"would not read back ({reason}); nothing was written"
            ) from error
        return {**fields, META_KEY: {"created_at": created_at}}

    def _unwritable_field(self, obj: object, error: Exception) -> tuple[str | None, str]:
        """The first field that fails to unstructure on its own (only on the error path)."""
        for field in attrs.fields(self.model):  # type: ignore[arg-type]
            try:
                self.converter.unstructure(getattr(obj, field.name), unstructure_as=field.type)
            except Exception as field_error:
                return field.name, f"{type(field_error).__name__}: {field_error}"
        return None, f"{type(error).__name__}: {error}"

    def load(self, raw: dict[str, Any], *, key: str, namespace: str, session_id: str) -> T:
        """Structure a stored value, or raise `CorruptSession`."""
        fields = {name: value for name, value in raw.items() if name != META_KEY}
        try:
            return self.converter.structure(fields, self.model)
        except Exception as error:  # cattrs raises many kinds; all mean "cannot structure"
            field, reason = _first_failure(error)
            _log.error(  # an operator's concern (a schema change?), logged without the id
                StoreEvent.CORRUPT_SESSION, namespace=namespace, key=key_digest(key), field=field
            )
            raise CorruptSession(key, namespace, session_id, field, reason) from error

    @staticmethod
    def created_at(raw: dict[str, Any]) -> float | None:
        """The creation instant recorded in a stored value (``None`` if it has none)."""
        meta = raw.get(META_KEY)
        if isinstance(meta, dict):
            created = meta.get("created_at")
            if isinstance(created, (int, float)) and not isinstance(created, bool):
                return float(created)
        return None

    def with_meta_of(
        self, fields: dict[str, Any], raw: dict[str, Any], now: float
    ) -> dict[str, Any]:
        """``fields`` carrying over the metadata of ``raw`` (or fresh metadata)."""
        created = self.created_at(raw)
        return {**fields, META_KEY: {"created_at": now if created is None else created}}


def _first_failure(error: Exception) -> tuple[str | None, str]:
    """The path and message of the first thing cattrs could not structure."""
    try:
        messages = cattrs.transform_error(error)
    except Exception:  # pragma: no cover - transform_error handles every cattrs error
        messages = []
    if not messages:
        return None, f"{type(error).__name__}: {error}"
    message, _, path = messages[0].rpartition(" @ ")
    field = path.removeprefix("$").removeprefix(".") or None
    detail = message if len(messages) == 1 else f"{message} (and {len(messages) - 1} more)"
    return field, detail
