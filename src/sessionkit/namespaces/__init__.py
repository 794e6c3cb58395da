"""Typed namespaces: attrs classes over a store, with tenants and TTL policies."""

from typing import Any

from .._moved import moved_attribute
from ._async.namespace import AsyncNamespace
from ._sync.namespace import Namespace
from .keyspace import KeySpace, SessionId, parse_key
from .model import META_KEY, CorruptSession, default_converter, make_strict_converter
from .policy import InvalidPolicy, TTLPolicy

__all__ = [
    "META_KEY",
    "AsyncNamespace",
    "CorruptSession",
    "InvalidPolicy",
    "KeySpace",
    "Namespace",
    "SessionId",
    "TTLPolicy",
    "default_converter",
    "make_strict_converter",
    "parse_key",
]


def __getattr__(name: str) -> Any:
    """The preset names, at their old place for one release (deprecated)."""
    return moved_attribute(__name__, name)
