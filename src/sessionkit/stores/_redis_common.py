"""The Redis store's logic that is not I/O, once, for the sync and the async store.

Layout: one Redis string per session, under ``prefix + key``. The string is an envelope,
``sk1:<version>:<json>``: the version lives beside the value, so every script touches one
key (one hash slot in a cluster) and a plain ``GET`` returns value and version together.

The Lua scripts never decode the JSON with cjson (which rounds numbers to 14 digits, turns
``[]`` into ``{}`` and escapes ``/``): ``merge`` splits the stored object and the patch into
their top-level fields as raw JSON text and splices them, so every value keeps the bytes
the Python codec wrote.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import attrs
import redis.exceptions
from redis.exceptions import (
    AskError,
    AuthenticationError,
    AuthorizationError,
    ClusterError,
    ConnectionError,
    NoPermissionError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisClusterException,
    RedisError,
    ResponseError,
    TimeoutError,
    TryAgainError,
)

from ..codec import JSONCodec
from ..entry import TTL, InvalidTTL, to_seconds
from ..errors import (
    BackendError,
    ConfigurationError,
    CorruptValue,
    PayloadTooLarge,
    SessionKitError,
    StoreUnavailable,
)
from ..keys import MAX_KEY_LENGTH
from ..registry import redact_url

__all__ = [
    "CAS",
    "DEFAULT_PREFIX",
    "GET_ENTRY",
    "MERGE",
    "PERSIST_IF_EXISTS",
    "REDIS_ERRORS",
    "SET",
    "LuaScript",
    "MultiHostURL",
    "decode_value",
    "envelope",
    "match_pattern",
    "open_envelope",
    "parse_multi_host_url",
    "patch_arguments",
    "store_error",
    "store_key",
    "ttl_ms",
]

#: Keys are ``prefix + key``; the default keeps sessionkit's keys apart from the app's.
DEFAULT_PREFIX = "sessionkit:"

MAGIC = b"sk1:"

# A version is 1 to 14 ASCII digits (Lua prints numbers with 14 significant digits); the
# scripts and open_envelope agree on that, so a value one of them calls ours the other does.
_MAX_VERSION_DIGITS = 14

# The field lengths a merge writes before the JSON.
_LENGTHS = re.compile(rb"\d+(?:,\d+)*")

#: A Redis key name (after the prefix) that is a valid store key: scan skips the others.
_STORE_KEY = re.compile(rb"[!-~]{1,%d}" % MAX_KEY_LENGTH)

#: What a Redis call can raise that the store translates (cluster routing errors are not
#: RedisError subclasses).
REDIS_ERRORS = (RedisError, RedisClusterException)

# Redis rejects expiry instants past the signed 64-bit millisecond range; far below that, a
# TTL of ~31,700 years is treated as the longest that makes sense.
_MAX_TTL_MS = 10**15


# -- the envelope -------------------------------------------------------------------------


def envelope(version: int, data: bytes) -> bytes:
    """The stored form of an encoded value (only ``create`` builds it client-side)."""
    return b"%b%d:%b" % (MAGIC, version, data)


def open_envelope(raw: bytes, key: str) -> tuple[int, bytes]:
    """Split a stored string into (version, JSON bytes); anything else is CorruptValue.

    After a merge the JSON is preceded by its fields' lengths (``sk1:<version>:<lengths>:``),
    which the next merge uses instead of scanning the JSON.
    """
    if raw.startswith(MAGIC):
        separator = raw.find(b":", 4)
        if 4 < separator <= 4 + _MAX_VERSION_DIGITS:
            head = raw[4:separator]
            if head.isdigit():  # ASCII digits only: what the scripts' '^sk1:(%d+):' accepts
                start = separator + 1
                if raw[start : start + 1] == b"{":
                    return int(head), raw[start:]
                lengths_end = raw.find(b":", start)  # after a merge: '<len>,<len>,...:'
                if lengths_end > 0 and _LENGTHS.fullmatch(raw, start, lengths_end):
                    return int(head), raw[lengths_end + 1 :]
    raise CorruptValue(key, "not written by sessionkit (no 'sk1:<version>:' envelope)")


def decode_value(codec: JSONCodec, raw: bytes, key: str) -> dict[str, Any]:
    """The value inside a stored string."""
    return codec.decode(open_envelope(raw, key)[1], key=key)


def patch_arguments(codec: JSONCodec, patch: dict[str, Any]) -> list[bytes]:
    """MERGE's arguments for a checked patch: (plain name, '"name":value') per field.

    Each field is encoded by the codec on its own, so the script never parses the patch.
    """
    arguments: list[bytes] = []
    for name, item in patch.items():
        field = codec.encode({name: item})[1:-1]  # SerializationError for a bad name or value
        arguments.append(name.encode())
        arguments.append(field)
    return arguments


def store_key(name: bytes, start: int) -> str | None:
    """The store key in the Redis key ``name`` (prefix ends at ``start``), or None.

    Another program may write keys under our prefix that are no store key (non-ASCII, a
    space, too long): ``scan``, ``count`` and ``purge`` skip those.
    """
    if _STORE_KEY.fullmatch(name, start):
        return name[start:].decode("ascii")
    return None


# -- TTLs -----------------------------------------------------------------------------------


def ttl_ms(ttl: TTL | None, default_seconds: float | None) -> int:
    """Milliseconds for PX (``ttl``, else the default); 0 means no expiry."""
    seconds = to_seconds(ttl) if ttl is not None else default_seconds
    if seconds is None:
        return 0
    # round, not ceil: 0.4 s is 400 ms even though 0.4 * 1000 is 400.00000000000006
    milliseconds = max(1, round(seconds * 1000))
    if milliseconds > _MAX_TTL_MS:
        raise InvalidTTL(f"a TTL of {ttl!r} is longer than Redis can keep ({_MAX_TTL_MS} ms)")
    return milliseconds


def remaining_from_pttl(pttl: int) -> float | None:
    """PTTL's answer as the contract's ``ttl()``: None if absent, inf if it never expires."""
    if pttl == -2:
        return None
    if pttl == -1:
        return math.inf
    return pttl / 1000


# -- SCAN patterns --------------------------------------------------------------------------

_GLOB_SPECIAL = str.maketrans({c: "\\" + c for c in "\\*?[]"})


def match_pattern(prefix: str) -> str:
    """A SCAN MATCH pattern for keys starting with ``prefix``, taken literally."""
    return prefix.translate(_GLOB_SPECIAL) + "*"


# -- Lua --------------------------------------------------------------------------------------


@attrs.frozen
class LuaScript:
    """A script run with EVALSHA; on NOSCRIPT the store sends it once with EVAL."""

    name: str
    source: str
    sha: str = attrs.field(init=False)

    @sha.default
    def _sha(self) -> str:
        return hashlib.sha1(self.source.encode()).hexdigest()


# Shared Lua helpers. A wrong-type key is read with pcall and reported as SKCORRUPT so the
# client can tell "not ours" from a server fault.
_LUA_ENVELOPE = r"""
local MAGIC = 'sk1:'
local function read(key)
  local current = redis.pcall('GET', key)
  if type(current) == 'table' then
    return nil, redis.error_reply('SKCORRUPT holds a Redis value of another type')
  end
  return current
end
-- 'sk1:<1 to 14 ASCII digits>:', exactly what open_envelope accepts (not tonumber's
-- '0x10' or '1e3'); nil for anything else.
local function version_of(current)
  local digits = string.match(current, '^sk1:(%d+):')
  if not digits or #digits > 14 then return nil end
  return tonumber(digits), 5 + #digits
end
local function write(key, value, px, keep)
  if px ~= '0' then
    redis.call('SET', key, value, 'PX', px)
  elseif keep then
    redis.call('SET', key, value, 'KEEPTTL')
  else
    redis.call('SET', key, value)
  end
end
"""

#: set / set_many. KEYS: the keys. ARGV[1]: PX in ms ('0': no expiry); ARGV[1+n]: the JSON
#: for KEYS[n]. Whatever was there is replaced (a foreign value restarts at version 1).
SET = LuaScript(
    "set",
    _LUA_ENVELOPE
    + r"""
for n = 1, #KEYS do
  local head = redis.pcall('GETRANGE', KEYS[n], 0, 23)
  local version = 1
  if type(head) == 'string' then version = (version_of(head) or 0) + 1 end
  write(KEYS[n], MAGIC .. version .. ':' .. ARGV[n + 1], ARGV[1], false)
end
return #KEYS
""",
)

#: update's compare-and-set. ARGV[1]: the stored string the update read ('' for absent);
#: ARGV[2]: new JSON; ARGV[3]: PX for an existing entry ('0' keeps its expiry); ARGV[4]: PX
#: for a new one ('0': none). Returns 1 if written, 0 if someone wrote in between.
CAS = LuaScript(
    "cas",
    _LUA_ENVELOPE
    + r"""
local current, failure = read(KEYS[1])
if failure then return failure end
if (current or '') ~= ARGV[1] then return 0 end
local version = 1
if current then
  local stored_version = version_of(current)
  if not stored_version then
    return redis.error_reply("SKCORRUPT not written by sessionkit (no 'sk1:<version>:' envelope)")
  end
  version = stored_version + 1
end
if current then
  write(KEYS[1], MAGIC .. version .. ':' .. ARGV[2], ARGV[3], true)
else
  write(KEYS[1], MAGIC .. version .. ':' .. ARGV[2], ARGV[4], false)
end
return 1
""",
)

#: merge. ARGV[1]/ARGV[2]: PX as for CAS; ARGV[3]: the largest JSON allowed in bytes ('0':
#: no limit); then one (name, '"name":value') pair per patch field, the name as plain
#: UTF-8 text. Returns the merged JSON. It stores the
#: byte length of each top-level field before the JSON, so that the next merge slices the
#: fields out instead of scanning every nested bracket and quote (a 1 KiB scan costs tens
#: of microseconds of server time in Lua; slicing costs a few).
MERGE = LuaScript(
    "merge",
    _LUA_ENVELOPE
    + r"""
-- Index of the closing quote of the string that opens at i.
local function string_end(s, i)
  while true do
    i = string.find(s, '["\\]', i + 1)
    if not i then error('unterminated string', 0) end
    if string.byte(s, i) == 34 then return i end
    i = i + 1
  end
end
-- A JSON number, true, false or null, exactly (no '0x10', 'tru', '01', 'NaN').
local function scalar_ok(t)
  if t == 'true' or t == 'false' or t == 'null' or t == '0'
    or string.find(t, '^%-?[1-9]%d*$') then
    return true
  end
  if string.find(t, '^%-?0%d') then return false end
  return string.find(t, '^%-?%d+%.%d+$') or string.find(t, '^%-?%d+[eE][%+%-]?%d+$')
    or string.find(t, '^%-?%d+%.%d+[eE][%+%-]?%d+$') or t == '-0'
end
-- Index of the last character of the JSON value that starts at i. Inside an array or
-- object every scalar is checked too, and brackets must match by kind.
local function value_end(s, i)
  local c = string.byte(s, i)
  if c == 34 then return string_end(s, i) end
  if c == 123 or c == 91 then
    local closers, depth = {c + 2}, 1  -- '{' + 2 is '}', '[' + 2 is ']'
    while true do
      i = string.find(s, '[^%s,:]', i + 1)  -- the next string, bracket or scalar
      if not i then error('unbalanced brackets', 0) end
      c = string.byte(s, i)
      if c == 34 then
        i = string_end(s, i)
      elseif c == 123 or c == 91 then
        depth = depth + 1
        closers[depth] = c + 2
      elseif c == 125 or c == 93 then
        if c ~= closers[depth] then error('unbalanced brackets', 0) end
        depth = depth - 1
        if depth == 0 then return i end
      else
        local stop = string.find(s, '[%s,:{}%[%]"]', i)
        if not stop then error('truncated value', 0) end
        if not scalar_ok(string.sub(s, i, stop - 1)) then error('not a JSON value', 0) end
        i = stop - 1
      end
    end
  end
  local stop = string.find(s, '[,}%]%s]', i)
  if not stop then error('truncated value', 0) end
  if not scalar_ok(string.sub(s, i, stop - 1)) then error('not a JSON value', 0) end
  return stop - 1
end
local function next_token(s, i)
  local found = string.find(s, '[^%s]', i)
  if not found then error('truncated object', 0) end
  return found
end
-- The top-level fields of the object that starts at i, as raw JSON text.
local function fields(s, i)
  local names, values = {}, {}
  i = next_token(s, i)
  if string.byte(s, i) ~= 123 then error('not a JSON object', 0) end
  i = next_token(s, i + 1)
  if string.byte(s, i) == 125 then
    if string.find(s, '[^%s]', i + 1) then error('bytes after the object', 0) end
    return names, values
  end
  while true do
    if string.byte(s, i) ~= 34 then error('expected a field name', 0) end
    local name_end = string_end(s, i)
    names[#names + 1] = string.sub(s, i, name_end)
    i = next_token(s, name_end + 1)
    if string.byte(s, i) ~= 58 then error('expected a colon', 0) end
    i = next_token(s, i + 1)
    local last = value_end(s, i)
    values[#values + 1] = string.sub(s, i, last)
    i = next_token(s, last + 1)
    local c = string.byte(s, i)
    if c == 125 then
      -- the object must end the string (whitespace aside): no trailing bytes
      if string.find(s, '[^%s]', i + 1) then error('bytes after the object', 0) end
      return names, values
    end
    if c ~= 44 then error('expected a comma', 0) end
    i = next_token(s, i + 1)
  end
end
-- Field names compared as decoded text, so that escapes cannot make one name look like two.
local function plain(name)
  if string.find(name, '\\', 1, true) then return cjson.decode(name) end
  return string.sub(name, 2, -2)
end

-- The stored object's fields as raw '"name":value' texts, and their plain names: sliced by
-- the lengths a previous merge wrote, or found by a scan when set or update left none.
local function stored_fields(s, body)
  local parts, names = {}, {}
  if string.byte(s, body) == 123 then
    local raw_names, values = fields(s, body)
    for n = 1, #raw_names do
      parts[n] = raw_names[n] .. ':' .. values[n]
      names[n] = plain(raw_names[n])
    end
    return parts, names
  end
  local colon = string.find(s, ':', body, true)
  if not colon or string.byte(s, colon + 1) ~= 123 then error('truncated field lengths', 0) end
  local lengths = string.sub(s, body, colon - 1)
  if not string.find(lengths, '^%d+$') and not string.find(lengths, '^%d+[%d,]*%d$')
    or string.find(lengths, ',,', 1, true) then
    error('field lengths are not numbers', 0)
  end
  local position = colon + 2  -- past ':{'
  local count = 0
  for length in string.gmatch(lengths, '%d+') do
    local last = position + tonumber(length) - 1
    if string.byte(s, position) ~= 34 then error('field lengths do not match the JSON', 0) end
    -- A name without escapes (the usual case) is sliced out as it is, with no decoding.
    local name_end = string.find(s, '["\\]', position + 1)
    local name
    if name_end and string.byte(s, name_end) == 34 then
      name = string.sub(s, position + 1, name_end - 1)
    else
      name_end = string_end(s, position)
      name = cjson.decode(string.sub(s, position, name_end))
    end
    if name_end + 2 > last or string.byte(s, name_end + 1) ~= 58 then
      error('field lengths do not match the JSON', 0)
    end
    -- The value's first and last bytes must agree ('"'...'"', '{'...'}', '['...']', or a
    -- scalar), and a ',' (or the final '}') must follow it. Its inside is not rescanned:
    -- that is what the lengths save.
    local first, final = string.byte(s, name_end + 2), string.byte(s, last)
    if first == 34 or first == 123 or first == 91 then
      if final ~= (first == 34 and 34 or first + 2) or last == name_end + 2 then
        error('field lengths do not match the JSON', 0)
      end
    elseif not scalar_ok(string.sub(s, name_end + 2, last)) then
      error('not a JSON value', 0)
    end
    local after = string.byte(s, last + 1)
    if after ~= 44 and not (after == 125 and last + 1 == #s) then
      error('field lengths do not match the JSON', 0)
    end
    count = count + 1
    parts[count] = string.sub(s, position, last)
    names[count] = name
    position = last + 2  -- past ','
  end
  if position - 1 ~= #s or string.byte(s, #s) ~= 125 then
    error('field lengths do not match the JSON', 0)
  end
  return parts, names
end

local current, failure = read(KEYS[1])
if failure then return failure end
local parts, names, version = {}, {}, 1
if current then
  local stored_version, separator = version_of(current)
  if not stored_version then
    return redis.error_reply("SKCORRUPT not written by sessionkit (no 'sk1:<version>:' envelope)")
  end
  version = stored_version + 1
  local ok, stored_parts, stored_names = pcall(stored_fields, current, separator + 1)
  if not ok then
    return redis.error_reply('SKCORRUPT stored JSON is malformed: ' .. stored_parts)
  end
  parts, names = stored_parts, stored_names
end
-- The patch comes split by the client: (plain name, '"name":value') pairs from ARGV[4].
if #ARGV > 3 then
  local index = {}
  for n = 1, #names do index[names[n]] = n end
  for p = 4, #ARGV, 2 do
    local n = index[ARGV[p]]
    if n then
      parts[n] = ARGV[p + 1]
    else
      parts[#parts + 1] = ARGV[p + 1]
      index[ARGV[p]] = #parts
    end
  end
end
local json = '{' .. table.concat(parts, ',') .. '}'
if ARGV[3] ~= '0' and #json > tonumber(ARGV[3]) then
  return redis.error_reply('SKTOOLARGE ' .. #json)
end
local stored
if #parts > 0 then
  local lengths = {}
  for n = 1, #parts do lengths[n] = #parts[n] end
  stored = MAGIC .. version .. ':' .. table.concat(lengths, ',') .. ':' .. json
else
  stored = MAGIC .. version .. ':' .. json
end
if current then
  write(KEYS[1], stored, ARGV[1], true)
else
  write(KEYS[1], stored, ARGV[2], false)
end
return json
""",
)

#: get_entry: the stored string, its PTTL and the server's clock, in one atomic call.
GET_ENTRY = LuaScript(
    "get_entry",
    r"""
local current = redis.pcall('GET', KEYS[1])
if type(current) == 'table' then
  return redis.error_reply('SKCORRUPT holds a Redis value of another type')
end
if not current then return false end
local now = redis.call('TIME')
return {current, redis.call('PTTL', KEYS[1]), now[1], now[2]}
""",
)

#: touch with no TTL: remove the expiry of an existing key (PERSIST alone answers 0 both
#: for a missing key and for one that had no expiry).
PERSIST_IF_EXISTS = LuaScript(
    "persist_if_exists",
    r"""
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('PERSIST', KEYS[1])
return 1
""",
)


def expires_at_from(pttl: int, seconds: bytes, microseconds: bytes) -> float | None:
    """The expiry instant (epoch seconds, by the server's clock) from GET_ENTRY's answer."""
    if pttl < 0:
        return None
    return int(seconds) + int(microseconds) / 1_000_000 + pttl / 1000


# -- errors ---------------------------------------------------------------------------------


# Error replies that mean "not now" rather than "never": a server loading its data, a
# replica or a master cut off from its replicas, a script running too long, a cluster
# resharding or failing over, memory full, persistence failing. redis-py turns some into
# classes (and drops the code from the message), the others keep the code as first word.
_TRANSIENT_REPLIES = frozenset(
    {"LOADING", "READONLY", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "OOM",
     "MISCONF", "NOREPLICAS"}
)
# Newer than redis 5.0 (the oldest supported): () matches nothing.
_MaxConnectionsError: Any = getattr(redis.exceptions, "MaxConnectionsError", ())
_CLUSTER_USAGE_ERRORS: tuple[Any, ...] = tuple(
    getattr(redis.exceptions, name)
    for name in ("CrossSlotTransactionError", "InvalidPipelineStack")
    if hasattr(redis.exceptions, name)
)
_TRANSIENT_CLASSES = (ReadOnlyError, TryAgainError, ClusterError, AskError, OutOfMemoryError)
# The pool's "every connection is in use" (BlockingConnectionPool after its timeout).
_POOL_TIMEOUT_MESSAGE = "No connection available."


def store_error(
    error: Exception, key: str | None = None, limit: int | None = None
) -> SessionKitError:
    """The library's error for what redis-py raised (``raise store_error(e) from e``).

    Only faults that may go away on their own are :class:`StoreUnavailable` (the error the
    resilience layer retries, counts and journals): connection errors, timeouts and the
    replies in ``_TRANSIENT_REPLIES``. A full connection pool and every other error reply
    (``ERR ...``, a script error) is :class:`BackendError`: retrying the same call would
    fail the same way. The table is in docs/backends/redis.md.
    """
    message = str(error)
    if isinstance(error, (AuthenticationError, AuthorizationError, NoPermissionError)):
        return ConfigurationError(f"Redis refused the credentials or the command: {message}")
    if isinstance(error, _MaxConnectionsError) or (
        isinstance(error, ConnectionError) and message == _POOL_TIMEOUT_MESSAGE
    ):
        return BackendError(
            "every connection in the Redis client's pool is in use (max_connections): "
            "raise max_connections or make fewer concurrent calls"
        )
    if isinstance(error, (ConnectionError, TimeoutError)):  # BusyLoadingError is one too
        return StoreUnavailable(f"Redis is unavailable: {type(error).__name__}: {message}")
    if isinstance(error, ResponseError):
        if key is not None and ("SKCORRUPT" in message or message.startswith("WRONGTYPE")):
            reason = message.split("SKCORRUPT ", 1)[-1].split(" script:", 1)[0]
            if message.startswith("WRONGTYPE"):
                reason = "holds a Redis value of another type"
            return CorruptValue(key, reason)
        if "SKTOOLARGE" in message and limit is not None:
            size = int(message.split("SKTOOLARGE ", 1)[1].split(maxsplit=1)[0])
            return PayloadTooLarge(size, limit)
        if isinstance(error, _TRANSIENT_CLASSES) or message.split(" ", 1)[0] in _TRANSIENT_REPLIES:
            return StoreUnavailable(f"Redis is unavailable: {type(error).__name__}: {message}")
    if isinstance(error, RedisClusterException) and not isinstance(
        error, _CLUSTER_USAGE_ERRORS
    ):  # no reachable node, a slot no node serves: the cluster is (re)configuring
        return StoreUnavailable(f"Redis is unavailable: {type(error).__name__}: {message}")
    return BackendError(f"Redis refused the call: {type(error).__name__}: {message}")


# -- URLs with several hosts ----------------------------------------------------------------


@attrs.frozen
class MultiHostURL:
    """A parsed ``redis+sentinel://`` or ``redis+cluster://`` URL."""

    scheme: str
    hosts: tuple[tuple[str, int], ...]
    username: str | None
    password: str | None
    service_name: str | None  # sentinel only
    db: int  # sentinel only; a cluster has just db 0
    query: dict[str, str]


_DEFAULT_PORTS = {"redis+sentinel": 26379, "redis+cluster": 6379}
_QUERY_KEYS = {
    "redis+sentinel": {"sentinel_username", "sentinel_password"},
    "redis+cluster": set(),
}


def parse_multi_host_url(url: str) -> MultiHostURL:
    """Parse ``scheme://[user:pass@]host:port,host:port[/service_name[/db]]``.

    >>> parse_multi_host_url("redis+sentinel://10.0.0.1:26379,[::1]/mymaster/2").hosts
    (('10.0.0.1', 26379), ('::1', 26379))
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ConfigurationError(f"not a sentinel or cluster URL: {redact_url(url)!r}")
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    username = password = None
    if userinfo:
        user, _, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) or None
    hosts = tuple(
        _parse_host(item, _DEFAULT_PORTS[scheme], url) for item in hostlist.split(",") if item
    )
    if not hosts:
        raise ConfigurationError(f"{scheme}:// URL names no host: {redact_url(url)!r}")
    segments = [unquote(s) for s in parts.path.split("/") if s]
    service_name, db = None, 0
    if scheme == "redis+sentinel":
        if not segments or len(segments) > 2:
            raise ConfigurationError(
                f"a sentinel URL ends with /service_name (and optionally /db): {redact_url(url)!r}"
            )
        service_name = segments[0]
        if len(segments) == 2:
            if not segments[1].isdigit():
                raise ConfigurationError(f"db must be a number in {redact_url(url)!r}")
            db = int(segments[1])
    elif segments:
        raise ConfigurationError(f"a cluster URL has no path (no db): {redact_url(url)!r}")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(query) - _QUERY_KEYS[scheme])
    if unknown:
        raise ConfigurationError(
            f"unknown {scheme}:// URL parameter(s): {', '.join(unknown)} "
            "(pass client settings as client_options=)"
        )
    return MultiHostURL(scheme, hosts, username, password, service_name, db, query)


def _parse_host(item: str, default_port: int, url: str) -> tuple[str, int]:
    host, port_text = item, ""
    if item.startswith("["):  # [IPv6]:port
        host, _, rest = item[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif ":" in item:
        host, _, port_text = item.rpartition(":")
    if not host or (port_text and not port_text.isdigit()):
        raise ConfigurationError(f"bad host {item!r} in {redact_url(url)!r}")
    port = int(port_text) if port_text else default_port
    if not 0 < port < 65536:
        raise ConfigurationError(f"bad port in {item!r} in {redact_url(url)!r}")
    return host, port
