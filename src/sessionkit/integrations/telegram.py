"""python-telegram-bot persistence on any sessionkit store.

Use it like any PTB persistence::

    persistence = SessionkitPersistence.from_url("sqlite:///bot-sessions.db")
    application = Application.builder().token(TOKEN).persistence(persistence).build()

Everything is written through to the store as PTB hands it over, so `flush` has
nothing left to write. Keys are namespaced per bot (the numeric id at the start of the
bot token, unless ``namespace`` is given), so several bots can share one store::

    ~ptb:<namespace>:user:<user id>        user_data, one field per top-level key
    ~ptb:<namespace>:chat:<chat id>        chat_data, the same
    ~ptb:<namespace>:bot                   bot_data, the same
    ~ptb:<namespace>:callback_data         the CallbackDataCache's order and queries
    ~ptb:<namespace>:callback_data:<uuid>  one keyboard's buttons
    ~ptb:<namespace>:conversation:<name>:<key>   one conversation's state

The leading ``~`` keeps these keys outside the namespaces' key space:
`AsyncSessionManager.stats()` and
``purge()`` neither count nor clear bot persistence; ``await store.purge("~ptb:<namespace>:")``
does.

Values go through `TaggedJSON` (never pickle): tuples, sets, datetimes, UUIDs,
Decimals, int and tuple keys, and the Enum, dataclass and attrs classes the application
names come back exactly. A value it cannot store raises `TaggedJSONError` naming the
user or chat and the path inside the value, after the rest of the record was written.
A stored record that is not what this module wrote raises `CorruptValue` when loaded.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, cast
from urllib.parse import quote

from telegram import Bot
from telegram.ext import BasePersistence, PersistenceInput

from .._async.protocol import AsyncSessionStore
from ..errors import ConfigurationError, CorruptValue
from ..keys import MAX_KEY_LENGTH
from ..observability.events import EventLogger
from ..registry import open_async_store
from .tagged_json import TaggedJSON, TaggedJSONError

__all__ = ["KEY_PREFIX", "SessionkitPersistence", "TelegramEvent"]

Data = dict[Any, Any]
# PTB's own aliases live in a private module; these are the same shapes.
ConversationKey = tuple[int | str, ...]
ConversationDict = MutableMapping[ConversationKey, object]
CDCData = tuple[list[tuple[str, float, dict[str, Any]]], dict[str, str]]

# The store keys fetched per round trip when loading every user's or chat's data.
_LOAD_BATCH = 500

_INT_ID = re.compile(r"-?[0-9]+")

#: The start of every key (``~``: outside the namespaces' key space).
KEY_PREFIX = "~ptb:"

# A top-level key that is not a plain str is stored under "~" + its tagged JSON.
_ENCODED_FIELD = "~"


class TelegramEvent:
    """The events of the PTB persistence (logger ``sessionkit.telegram``)."""

    #: error: a value could not be stored; the rest of the record was. Fields: kind
    #: (``user_data``, ``chat_data``, ``bot_data``, ``conversation``), owner (the user or
    #: chat id, the conversation's name and key), path, reason.
    UNSTORABLE_VALUE = "sessionkit.telegram.unstorable_value"
    #: error: a callback-data button could not be stored and was left out of the stored
    #: cache (the rest of the cache was written). Fields: keyboard, button, path, reason.
    CALLBACK_DATA_SKIPPED = "sessionkit.telegram.callback_data_skipped"


_log = EventLogger("sessionkit.telegram")


def _encode(text: str) -> str:
    return quote(text, safe="", encoding="utf-8", errors="surrogatepass")


def _digest(encoded: Any) -> bytes:
    text = json.dumps(encoded, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


class SessionkitPersistence(BasePersistence[Data, Data, Data]):
    """A `telegram.ext.BasePersistence` that keeps bot state in a sessionkit store.

    Pass an open ``store`` (its owner closes it), or use `from_url`: the persistence
    then opens its store right away (a wrong URL or option fails at construction, not at
    startup), and closes it in `flush`, which PTB calls when the application shuts
    down; the next use after a flush opens the URL again.

    Args:
        store: The store (see `from_url` to give a URL instead).
        namespace: Keeps this bot's keys apart; the bot id from the token by default.
        store_data: What PTB persists (`telegram.ext.PersistenceInput`).
        update_interval: Seconds between two hand-overs of changed data by PTB (``0``
            hands over as often as PTB's update loop runs, as PTB allows).
        types: Enum, dataclass and attrs classes stored in the data, conversation
            states or callback data.
        allowed_paths: Import paths (modules or classes) whose Enum, dataclass and attrs
            classes may be stored, for classes not listed in ``types``.
        refresh: Whether ``refresh_user_data``/``refresh_chat_data``/``refresh_bot_data``
            read the store, so that several processes see each other's writes (one store
            read per update and kind). A top-level key changed in memory since the last
            hand-over keeps its in-memory value. ``False`` makes them do nothing.
    """

    __slots__ = (
        "_callback_synced",
        "_codec",
        "_namespace",
        "_open_store",
        "_refresh",
        "_store_options",
        "_synced",
        "_url",
    )

    def __init__(
        self,
        store: AsyncSessionStore,
        *,
        namespace: str | None = None,
        store_data: PersistenceInput | None = None,
        update_interval: float = 60,
        types: Iterable[type] = (),
        allowed_paths: Iterable[str] = (),
        refresh: bool = True,
    ) -> None:
        if isinstance(update_interval, bool) or not (
            isinstance(update_interval, (int, float))
            and math.isfinite(update_interval)
            and update_interval >= 0
        ):
            raise ValueError(
                f"update_interval is seconds between two persistence updates, >= 0; "
                f"not {update_interval!r}"
            )
        super().__init__(store_data=store_data, update_interval=update_interval)
        self._open_store: AsyncSessionStore | None = store
        self._url: str | None = None
        self._store_options: dict[str, Any] = {}
        self._namespace = None if namespace is None else _checked_namespace(namespace)
        self._codec = TaggedJSON(types=types, allowed_paths=allowed_paths)
        self._refresh = bool(refresh)
        # What this process last read from or wrote to the store, per record and field:
        # the digest of each field's stored JSON. Writes send only what changed since.
        self._synced: dict[str, dict[str, bytes]] = {}
        # The same for callback data: keyboard uuid -> digest of its stored record.
        self._callback_synced: dict[str, bytes] = {}

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        store_options: Mapping[str, Any] | None = None,
        namespace: str | None = None,
        store_data: PersistenceInput | None = None,
        update_interval: float = 60,
        types: Iterable[type] = (),
        allowed_paths: Iterable[str] = (),
        refresh: bool = True,
    ) -> SessionkitPersistence:
        """A persistence that opens ``url`` itself and closes it on `flush`."""
        options = dict(store_options or {})
        # Opened now, so a wrong URL or option fails here rather than at startup.
        persistence = cls(
            open_async_store(url, **options),
            namespace=namespace,
            store_data=store_data,
            update_interval=update_interval,
            types=types,
            allowed_paths=allowed_paths,
            refresh=refresh,
        )
        persistence._url = url
        persistence._store_options = options
        return persistence

    @property
    def namespace(self) -> str:
        """The part of every key that keeps this bot's data apart from other bots'."""
        if self._namespace is None:
            raise ConfigurationError(
                "SessionkitPersistence has no namespace yet: pass namespace=..., or let the "
                "Application set its bot first"
            )
        return self._namespace

    @property
    def codec(self) -> TaggedJSON:
        """The codec values go through."""
        return self._codec

    def set_bot(self, bot: Bot) -> None:
        super().set_bot(bot)
        if self._namespace is None:
            bot_id = bot.token.split(":", 1)[0]
            if not bot_id.isdigit():
                raise ConfigurationError(
                    "the bot token does not start with the bot's numeric id; pass "
                    "namespace=... to SessionkitPersistence"
                )
            self._namespace = bot_id

    @property
    def store(self) -> AsyncSessionStore:
        """The store in use (opened again from the URL after a `flush`)."""
        if self._open_store is None:
            assert self._url is not None
            self._open_store = open_async_store(self._url, **self._store_options)
        return self._open_store

    # -- keys -------------------------------------------------------------------------------

    def _prefix(self, kind: str) -> str:
        return f"{KEY_PREFIX}{self.namespace}:{kind}:"

    def _conversation_prefix(self, name: str) -> str:
        return self._prefix("conversation") + _encode(name) + ":"

    def _conversation_key(self, name: str, key: ConversationKey) -> str:
        prefix = self._conversation_prefix(name)
        encoded = _encode(_key_json(key))
        if len(prefix) + len(encoded) > MAX_KEY_LENGTH:
            # "#" never comes out of percent-encoding; the full key is kept in the value.
            encoded = "#" + hashlib.sha256(encoded.encode()).hexdigest()
        return prefix + encoded

    def _field_name(self, key: object, where: str) -> str:
        if type(key) is str and not key.startswith(_ENCODED_FIELD):
            return key
        encoded = self._codec.encode(key, where=f"{where}<key {key!r}>")
        return _ENCODED_FIELD + json.dumps(encoded, separators=(",", ":"), sort_keys=True)

    def _field_key(self, store_key: str, name: str) -> Any:
        if not name.startswith(_ENCODED_FIELD):
            return name
        try:
            encoded = json.loads(name[len(_ENCODED_FIELD) :])
        except ValueError:
            raise CorruptValue(store_key, f"a field name is not tagged JSON: {name!r}") from None
        return self._codec.decode(encoded, key=store_key)

    # -- records: user, chat and bot data -------------------------------------------------

    def _decode_record(self, store_key: str, stored: Mapping[str, Any]) -> Data:
        data: Data = {}
        digests: dict[str, bytes] = {}
        for name, encoded in stored.items():
            data[self._field_key(store_key, name)] = self._codec.decode(encoded, key=store_key)
            digests[name] = _digest(encoded)
        self._synced[store_key] = digests
        return data

    async def _write_record(self, store_key: str, data: Mapping[Any, Any], where: str) -> None:
        """Write the fields of ``data`` that changed since this process last synced
        ``store_key``, merged into what the store holds; then raise for an unstorable
        field (which keeps its stored value)."""
        fields: dict[str, Any] = {}
        unstorable: set[str] = set()
        errors: list[TaggedJSONError] = []
        for key, value in data.items():
            name: str | None = None
            try:
                name = self._field_name(key, where)
                fields[name] = self._codec.encode(value, where=f"{where}[{key!r}]")
            except TaggedJSONError as failed:
                errors.append(failed)
                if name is not None:
                    unstorable.add(name)
        old = self._synced.get(store_key)
        digests = {name: _digest(encoded) for name, encoded in fields.items()}
        changed = {
            name: encoded
            for name, encoded in fields.items()
            if old is None or old.get(name) != digests[name]
        }
        removed = [] if old is None else [n for n in old if n not in fields and n not in unstorable]
        if old is None or changed or removed:

            def apply(current: dict[str, Any]) -> dict[str, Any]:
                current.update(changed)
                for name in removed:
                    current.pop(name, None)
                return current

            await self.store.update(store_key, apply, default={})
        if old is not None:
            digests.update({name: old[name] for name in unstorable if name in old})
        self._synced[store_key] = digests
        if errors:
            for refused in errors:
                _log.error(
                    TelegramEvent.UNSTORABLE_VALUE,
                    kind=where.split("[", 1)[0],
                    owner=where,
                    path=refused.path,
                    reason=refused.reason,
                )
            first = errors[0]
            raise TaggedJSONError(
                first.path,
                first.reason
                + (f" ({len(errors) - 1} more unstorable key(s))" if len(errors) > 1 else "")
                + "; the other keys were stored, this one keeps its last stored value",
            )

    async def _refresh_record(self, store_key: str, data: Data, where: str) -> None:
        """Bring into ``data`` what other processes stored since this one last synced,
        except for top-level keys changed here since (those are written next)."""
        stored = await self.store.get(store_key)
        old = self._synced.get(store_key, {})
        stored = stored or {}
        digests = dict(old)
        local_names: dict[str, Any] = {}
        for key in data:
            try:
                local_names[self._field_name(key, where)] = key
            except TaggedJSONError:
                continue

        def changed_here(name: str) -> bool:
            if name not in local_names:
                return name in old  # deleted here
            try:
                encoded = self._codec.encode(data[local_names[name]])
            except TaggedJSONError:
                return True
            return _digest(encoded) != old.get(name)

        for name, encoded in stored.items():
            digest = _digest(encoded)
            if digest == old.get(name) or changed_here(name):
                continue
            data[self._field_key(store_key, name)] = self._codec.decode(encoded, key=store_key)
            digests[name] = digest
        for name in [n for n in old if n not in stored]:  # removed elsewhere
            if not changed_here(name) and name in local_names:
                del data[local_names[name]]
            digests.pop(name, None)
        self._synced[store_key] = digests

    # -- user, chat and bot data ------------------------------------------------------------

    async def _load_all(self, kind: str) -> dict[int, Data]:
        prefix = self._prefix(kind)
        loaded: dict[int, Data] = {}
        batch: list[str] = []
        async for store_key in self.store.scan(prefix, batch_size=_LOAD_BATCH):
            batch.append(store_key)
            if len(batch) >= _LOAD_BATCH:
                loaded.update(await self._load_batch(prefix, batch))
                batch = []
        if batch:
            loaded.update(await self._load_batch(prefix, batch))
        return loaded

    async def _load_batch(self, prefix: str, keys: list[str]) -> dict[int, Data]:
        values = await self.store.get_many(keys)
        loaded: dict[int, Data] = {}
        for key, value in values.items():
            suffix = key[len(prefix) :]
            if not _INT_ID.fullmatch(suffix):  # what str(int(id)) writes, and nothing else
                raise CorruptValue(key, f"the key does not end with an int id: {suffix!r}")
            loaded[int(suffix)] = self._decode_record(key, value)
        return loaded

    def _user_key(self, user_id: int) -> str:
        return self._prefix("user") + str(int(user_id))

    def _chat_key(self, chat_id: int) -> str:
        return self._prefix("chat") + str(int(chat_id))

    def _bot_key(self) -> str:
        return self._prefix("bot")[:-1]

    async def get_user_data(self) -> dict[int, Data]:
        return await self._load_all("user")

    async def get_chat_data(self) -> dict[int, Data]:
        return await self._load_all("chat")

    async def get_bot_data(self) -> Data:
        store_key = self._bot_key()
        stored = await self.store.get(store_key)
        if stored is None:
            self._synced.pop(store_key, None)
            return {}
        return self._decode_record(store_key, stored)

    async def update_user_data(self, user_id: int, data: Data) -> None:
        await self._write_record(self._user_key(user_id), data, f"user_data[{int(user_id)}]")

    async def update_chat_data(self, chat_id: int, data: Data) -> None:
        await self._write_record(self._chat_key(chat_id), data, f"chat_data[{int(chat_id)}]")

    async def update_bot_data(self, data: Data) -> None:
        await self._write_record(self._bot_key(), data, "bot_data")

    async def drop_user_data(self, user_id: int) -> None:
        store_key = self._user_key(user_id)
        self._synced.pop(store_key, None)
        await self.store.delete(store_key)

    async def drop_chat_data(self, chat_id: int) -> None:
        store_key = self._chat_key(chat_id)
        self._synced.pop(store_key, None)
        await self.store.delete(store_key)

    async def refresh_user_data(self, user_id: int, user_data: Data) -> None:
        """Read what other processes stored for this user (unless ``refresh=False``)."""
        if self._refresh:
            key = self._user_key(user_id)
            await self._refresh_record(key, user_data, f"user_data[{int(user_id)}]")

    async def refresh_chat_data(self, chat_id: int, chat_data: Data) -> None:
        """Read what other processes stored for this chat (unless ``refresh=False``)."""
        if self._refresh:
            key = self._chat_key(chat_id)
            await self._refresh_record(key, chat_data, f"chat_data[{int(chat_id)}]")

    async def refresh_bot_data(self, bot_data: Data) -> None:
        """Read what other processes stored in bot_data (unless ``refresh=False``)."""
        if self._refresh:
            await self._refresh_record(self._bot_key(), bot_data, "bot_data")

    # -- callback data ----------------------------------------------------------------------

    async def get_callback_data(self) -> CDCData | None:
        store_key = self._prefix("callback_data")[:-1]
        stored = await self.store.get(store_key)
        self._callback_synced = {}
        if stored is None:
            return None
        try:
            order = list(stored["keyboards"])
            queries = {
                str(query): str(uuid) for query, uuid in dict(stored["callback_queries"]).items()
            }
            if order and not isinstance(order[0], str):  # the one-record layout of earlier versions
                keyboards = [
                    (str(uuid), float(created), dict(buttons)) for uuid, created, buttons in order
                ]
                return keyboards, queries
            records = await self.store.get_many(self._keyboard_key(str(uuid)) for uuid in order)
            keyboards = []
            for uuid in order:
                record = records.get(self._keyboard_key(uuid))
                if record is None:  # written after the order, or removed: nothing to restore
                    continue
                buttons = {
                    str(button): self._codec.decode(value, key=self._keyboard_key(uuid))
                    for button, value in dict(record["buttons"]).items()
                }
                keyboards.append((uuid, float(record["created"]), buttons))
                self._callback_synced[uuid] = _digest(record)
        except (KeyError, TypeError, ValueError) as error:
            raise CorruptValue(store_key, f"not callback data: {error!r}") from None
        return keyboards, queries

    def _keyboard_key(self, uuid: str) -> str:
        return self._prefix("callback_data") + _encode(uuid)

    async def update_callback_data(self, data: CDCData) -> None:
        """Write each keyboard that changed as its own record; a button whose data cannot
        be stored is left out and reported (`TelegramEvent.CALLBACK_DATA_SKIPPED`)."""
        keyboards, callback_queries = data
        changed: dict[str, dict[str, Any]] = {}
        synced: dict[str, bytes] = {}
        order: list[str] = []
        for uuid, created, buttons in keyboards:
            encoded_buttons: dict[str, Any] = {}
            for button, value in buttons.items():
                try:
                    encoded_buttons[str(button)] = self._codec.encode(
                        value, where=f"callback_data[{uuid!r}][{button!r}]"
                    )
                except TaggedJSONError as error:
                    _log.error(
                        TelegramEvent.CALLBACK_DATA_SKIPPED,
                        keyboard=uuid,
                        button=button,
                        path=error.path,
                        reason=error.reason,
                    )
            record = {"created": float(created), "buttons": encoded_buttons}
            digest = _digest(record)
            order.append(str(uuid))
            synced[str(uuid)] = digest
            if self._callback_synced.get(str(uuid)) != digest:
                changed[self._keyboard_key(str(uuid))] = record
        if changed:
            await self.store.set_many(changed)
        await self.store.set(
            self._prefix("callback_data")[:-1],
            {"keyboards": order, "callback_queries": dict(callback_queries)},
        )
        for uuid in self._callback_synced.keys() - synced.keys():
            await self.store.delete(self._keyboard_key(uuid))
        self._callback_synced = synced

    # -- conversations ----------------------------------------------------------------------

    async def get_conversations(self, name: str) -> ConversationDict:
        prefix = self._conversation_prefix(name)
        keys = [key async for key in self.store.scan(prefix, batch_size=_LOAD_BATCH)]
        conversations: ConversationDict = {}
        for start in range(0, len(keys), _LOAD_BATCH):
            values = await self.store.get_many(keys[start : start + _LOAD_BATCH])
            for store_key, value in values.items():
                if "key" not in value or "state" not in value:
                    raise CorruptValue(
                        store_key, f"a conversation record has a key and a state: {value!r}"
                    )
                state = self._codec.decode(value["state"], key=store_key)
                conversations[_key_from_json(store_key, value["key"])] = state
        return conversations

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        store_key = self._conversation_key(name, key)
        if new_state is None:  # the conversation ended
            await self.store.delete(store_key)
            return
        where = f"conversation[{name!r}][{tuple(key)!r}]"
        try:
            state = self._codec.encode(new_state, where=where)
        except TaggedJSONError as error:
            _log.error(
                TelegramEvent.UNSTORABLE_VALUE,
                kind="conversation",
                owner=where,
                path=error.path,
                reason=error.reason,
            )
            raise
        await self.store.set(store_key, {"key": list(key), "state": state})

    async def flush(self) -> None:
        """Close the store if this persistence opened it; every write is already stored."""
        if self._url is not None and self._open_store is not None:
            store, self._open_store = self._open_store, None
            await store.close()


def _checked_namespace(namespace: str) -> str:
    if not isinstance(namespace, str) or not namespace or _encode(namespace) != namespace:
        raise ConfigurationError(
            f"a persistence namespace is letters, digits and _.-~ only, not {namespace!r}"
        )
    return namespace


def _key_json(key: ConversationKey) -> str:
    return json.dumps(list(key), separators=(",", ":"))


def _key_from_json(store_key: str, parts: object) -> ConversationKey:
    # JSON keeps ints and strs apart, so (123, 456) comes back as ints, "abc" as str.
    if not isinstance(parts, list) or not all(
        isinstance(part, (int, str)) and not isinstance(part, bool) for part in parts
    ):
        raise CorruptValue(store_key, f"a conversation key is a list of ints and strs: {parts!r}")
    return cast(ConversationKey, tuple(parts))
