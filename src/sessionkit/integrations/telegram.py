"""python-telegram-bot persistence on any sessionkit store.

Use it like any PTB persistence::

    persistence = SessionkitPersistence.from_url("sqlite:///bot-sessions.db")
    application = Application.builder().token(TOKEN).persistence(persistence).build()

Everything is written through to the store as PTB hands it over, so `flush` has
nothing left to write. Keys are namespaced per bot (the numeric id at the start of the
bot token, unless ``namespace`` is given), so several bots can share one store::

    ~ptb:<namespace>:user:<user id>        user_data
    ~ptb:<namespace>:chat:<chat id>        chat_data
    ~ptb:<namespace>:bot                   bot_data
    ~ptb:<namespace>:callback_data         the CallbackDataCache
    ~ptb:<namespace>:conversation:<name>:<key>   one conversation's state

The leading ``~`` keeps these keys outside the namespaces' key space:
`AsyncSessionManager.stats()` and
``purge()`` neither count nor clear bot persistence; ``await store.purge("~ptb:<namespace>:")``
does.

Stored data must be JSON-compatible (str keys, no sets or custom objects); the store's
codec raises `SerializationError` before writing anything else.
A stored record that is not what this module wrote raises
`CorruptValue` when loaded.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, MutableMapping
from typing import Any, cast
from urllib.parse import quote

from telegram import Bot
from telegram.ext import BasePersistence, PersistenceInput

from .._async.protocol import AsyncSessionStore
from ..errors import ConfigurationError, CorruptValue
from ..keys import MAX_KEY_LENGTH
from ..registry import open_async_store

__all__ = ["KEY_PREFIX", "SessionkitPersistence"]

Data = dict[str, Any]
# PTB's own aliases live in a private module; these are the same shapes.
ConversationKey = tuple[int | str, ...]
ConversationDict = MutableMapping[ConversationKey, object]
CDCData = tuple[list[tuple[str, float, dict[str, Any]]], dict[str, str]]

# The store keys fetched per round trip when loading every user's or chat's data.
_LOAD_BATCH = 500

_INT_ID = re.compile(r"-?[0-9]+")

#: The start of every key (``~``: outside the namespaces' key space).
KEY_PREFIX = "~ptb:"


def _encode(text: str) -> str:
    return quote(text, safe="", encoding="utf-8", errors="surrogatepass")


class SessionkitPersistence(BasePersistence[Data, Data, Data]):
    """A `telegram.ext.BasePersistence` that keeps bot state in a sessionkit store.

    Pass an open ``store`` (its owner closes it), or use `from_url`: the persistence
    then opens its store right away (a wrong URL or option fails at construction, not at
    startup), and closes it in `flush`, which PTB calls when the application shuts
    down; the next use after a flush opens the URL again.

    ``update_interval`` is how often PTB hands changed data over (seconds, > 0).
    ``refresh_*`` do nothing on purpose: between two hand-overs the application's
    in-memory data is newer than the store's, and reloading it would drop those changes.
    """

    def __init__(
        self,
        store: AsyncSessionStore,
        *,
        namespace: str | None = None,
        store_data: PersistenceInput | None = None,
        update_interval: float = 60,
    ) -> None:
        if isinstance(update_interval, bool) or not (
            isinstance(update_interval, (int, float)) and update_interval > 0
        ):
            raise ValueError(
                f"update_interval is seconds between two persistence updates, > 0; "
                f"not {update_interval!r}"
            )
        super().__init__(store_data=store_data, update_interval=update_interval)
        self._open_store: AsyncSessionStore | None = store
        self._url: str | None = None
        self._store_options: dict[str, Any] = {}
        self._namespace = None if namespace is None else _checked_namespace(namespace)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        store_options: Mapping[str, Any] | None = None,
        namespace: str | None = None,
        store_data: PersistenceInput | None = None,
        update_interval: float = 60,
    ) -> SessionkitPersistence:
        """A persistence that opens ``url`` itself and closes it on `flush`."""
        options = dict(store_options or {})
        # Opened now, so a wrong URL or option fails here rather than at startup.
        persistence = cls(
            open_async_store(url, **options),
            namespace=namespace,
            store_data=store_data,
            update_interval=update_interval,
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

    def _conversation_key(self, name: str, key: ConversationKey) -> str:
        prefix = self._prefix("conversation") + _encode(name) + ":"
        encoded = _encode(_key_json(key))
        if len(prefix) + len(encoded) > MAX_KEY_LENGTH:
            # "#" never comes out of percent-encoding; the full key is kept in the value.
            encoded = "#" + hashlib.sha256(encoded.encode()).hexdigest()
        return prefix + encoded

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
            loaded[int(suffix)] = value
        return loaded

    async def get_user_data(self) -> dict[int, Data]:
        return await self._load_all("user")

    async def get_chat_data(self) -> dict[int, Data]:
        return await self._load_all("chat")

    async def get_bot_data(self) -> Data:
        return await self.store.get(self._prefix("bot")[:-1]) or {}

    async def update_user_data(self, user_id: int, data: Data) -> None:
        await self.store.set(self._prefix("user") + str(int(user_id)), data)

    async def update_chat_data(self, chat_id: int, data: Data) -> None:
        await self.store.set(self._prefix("chat") + str(int(chat_id)), data)

    async def update_bot_data(self, data: Data) -> None:
        await self.store.set(self._prefix("bot")[:-1], data)

    async def drop_user_data(self, user_id: int) -> None:
        await self.store.delete(self._prefix("user") + str(int(user_id)))

    async def drop_chat_data(self, chat_id: int) -> None:
        await self.store.delete(self._prefix("chat") + str(int(chat_id)))

    async def refresh_user_data(self, user_id: int, user_data: Data) -> None:
        """Nothing to do: the application's copy is the newest (see the class docstring)."""

    async def refresh_chat_data(self, chat_id: int, chat_data: Data) -> None:
        """Nothing to do: the application's copy is the newest (see the class docstring)."""

    async def refresh_bot_data(self, bot_data: Data) -> None:
        """Nothing to do: the application's copy is the newest (see the class docstring)."""

    # -- callback data ----------------------------------------------------------------------

    async def get_callback_data(self) -> CDCData | None:
        store_key = self._prefix("callback_data")[:-1]
        stored = await self.store.get(store_key)
        if stored is None:
            return None
        try:
            keyboards = [
                (str(uuid), float(created), dict(buttons))
                for uuid, created, buttons in stored["keyboards"]
            ]
            return keyboards, dict(stored["callback_queries"])
        except (KeyError, TypeError, ValueError) as error:
            raise CorruptValue(store_key, f"not callback data: {error!r}") from None

    async def update_callback_data(self, data: CDCData) -> None:
        keyboards, callback_queries = data
        await self.store.set(
            self._prefix("callback_data")[:-1],
            {
                "keyboards": [[uuid, created, buttons] for uuid, created, buttons in keyboards],
                "callback_queries": callback_queries,
            },
        )

    # -- conversations ----------------------------------------------------------------------

    async def get_conversations(self, name: str) -> ConversationDict:
        prefix = self._prefix("conversation") + _encode(name) + ":"
        keys = [key async for key in self.store.scan(prefix, batch_size=_LOAD_BATCH)]
        conversations: ConversationDict = {}
        for start in range(0, len(keys), _LOAD_BATCH):
            values = await self.store.get_many(keys[start : start + _LOAD_BATCH])
            for store_key, value in values.items():
                if "key" not in value or "state" not in value:
                    raise CorruptValue(
                        store_key, f"a conversation record has a key and a state: {value!r}"
                    )
                conversations[_key_from_json(store_key, value["key"])] = value["state"]
        return conversations

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        store_key = self._conversation_key(name, key)
        if new_state is None:  # the conversation ended
            await self.store.delete(store_key)
        else:
            await self.store.set(store_key, {"key": list(key), "state": new_state})

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
