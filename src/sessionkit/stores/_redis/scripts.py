"""The Redis store's Lua scripts, shipped as ``lua/*.lua`` package data.

``set``, ``cas``, ``merge`` and ``apply_if_newer`` start with ``lua/envelope.lua`` (the
shared envelope helpers); ``merge`` and ``apply_if_newer`` then with ``lua/merge_fields.lua``
(a merge's work). The store runs each through a redis-py ``Script`` bound to its client (EVALSHA,
and on NOSCRIPT a SCRIPT LOAD and EVALSHA again); ``set_many``'s pipelines send the
source with EVAL, since redis-py refuses EVALSHA in cluster pipelines.
"""

from __future__ import annotations

import hashlib
from importlib.resources import files

import attrs

__all__ = [
    "APPLY_IF_NEWER",
    "CAS",
    "DELETE",
    "GET_ENTRY",
    "MERGE",
    "PERSIST_IF_EXISTS",
    "SCRIPTS",
    "SET",
    "LuaScript",
]


def _read(name: str) -> str:
    lua = files("sessionkit.stores._redis").joinpath("lua")
    return lua.joinpath(f"{name}.lua").read_text(encoding="utf-8")


@attrs.frozen
class LuaScript:
    """A script's name and full source (with the envelope helpers if it uses them)."""

    name: str
    source: str
    sha: str = attrs.field(init=False)

    @sha.default
    def _sha(self) -> str:
        return hashlib.sha1(self.source.encode()).hexdigest()

    @classmethod
    def load(cls, name: str, *, envelope: bool = False, merge: bool = False) -> LuaScript:
        source = _read(name)
        if merge:
            source = _read("merge_fields") + source
        return cls(name, _read("envelope") + source if envelope else source)


SET = LuaScript.load("set", envelope=True)
CAS = LuaScript.load("cas", envelope=True)
MERGE = LuaScript.load("merge", envelope=True, merge=True)
APPLY_IF_NEWER = LuaScript.load("apply_if_newer", envelope=True, merge=True)
DELETE = LuaScript.load("delete")
GET_ENTRY = LuaScript.load("get_entry")
PERSIST_IF_EXISTS = LuaScript.load("persist_if_exists")

#: Every script, by name: what a store registers with its client.
SCRIPTS = {
    script.name: script
    for script in (SET, CAS, MERGE, APPLY_IF_NEWER, DELETE, GET_ENTRY, PERSIST_IF_EXISTS)
}
