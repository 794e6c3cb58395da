"""PTB's ``TrackingPersistence`` test double, rebuilt on `SessionkitPersistence`.

scripts/ptb_suite.py copies this module next to PTB's own ``tests/ext/test_basepersistence.py``
and makes that file's ``TrackingPersistence`` the class `tracking_persistence` returns.

PTB's double keeps everything in attributes (``user_data``, ``conversations``, ...) that
its tests read and set directly. Here every call goes through `SessionkitPersistence` to
a real store; the attributes only mirror the store:

* ``get_*`` first write what the attributes hold to the store (the tests fill and change
  them directly), then return what the store gives back;
* ``update_*``, ``drop_*`` write to the store, then set the attribute to what the store
  holds afterwards (a conversation the store deleted reads back as ``None``, the state PTB
  handed over);
* ``refresh_*`` read the store (`SessionkitPersistence`'s own refresh), then mark the data
  ``refreshed`` as PTB's double does.

The store comes from the environment (set by scripts/ptb_suite.py): ``SESSIONKIT_PTB_URL``
and ``SESSIONKIT_PTB_OPTIONS`` (JSON); ``memory://`` gives each persistence its own store.
Every persistence gets its own namespace, so the tests never see each other's data.
"""

from __future__ import annotations

import collections
import json
import os
import time
import uuid
from typing import Any

from sessionkit import AsyncMemoryStore, open_async_store
from sessionkit.integrations.telegram import SessionkitPersistence


def _store_config() -> tuple[str, dict[str, Any]]:
    url = os.environ.get("SESSIONKIT_PTB_URL", "memory://")
    return url, json.loads(os.environ.get("SESSIONKIT_PTB_OPTIONS", "{}"))


def tracking_persistence(handler_states: type) -> type:
    """The double, with PTB's conversation-state Enum registered with the codec."""

    class TrackingPersistence(SessionkitPersistence):
        CALLBACK_DATA = (
            [("uuid", time.time(), {"uuid4": "callback_data"})],
            {"query_id": "keyboard_id"},
        )

        def __init__(
            self,
            store_data: Any = None,
            update_interval: float = 60,
            fill_data: bool = False,
        ) -> None:
            url, options = _store_config()
            store = AsyncMemoryStore() if url == "memory://" else open_async_store(url, **options)
            super().__init__(
                store,
                namespace=uuid.uuid4().hex,
                store_data=store_data,
                update_interval=update_interval,
                types=[handler_states],
            )
            if url != "memory://":  # closed by flush (application shutdown), reopened on use
                self._url, self._store_options = url, options
            self.updated_chat_ids: collections.Counter[int] = collections.Counter()
            self.updated_user_ids: collections.Counter[int] = collections.Counter()
            self.refreshed_chat_ids: collections.Counter[int] = collections.Counter()
            self.refreshed_user_ids: collections.Counter[int] = collections.Counter()
            self.dropped_chat_ids: collections.Counter[int] = collections.Counter()
            self.dropped_user_ids: collections.Counter[int] = collections.Counter()
            self.updated_conversations: Any = collections.defaultdict(collections.Counter)
            self.updated_bot_data = False
            self.refreshed_bot_data = False
            self.updated_callback_data = False
            self.flushed = False

            self.chat_data: Any = collections.defaultdict(dict)
            self.user_data: Any = collections.defaultdict(dict)
            self.conversations: Any = collections.defaultdict(dict)
            self.bot_data: Any = {}
            self.callback_data: Any = ([], {})
            if fill_data:
                self.fill()

        def fill(self) -> None:
            self.chat_data[1]["key"] = "value"
            self.chat_data[2]["foo"] = "bar"
            self.user_data[1]["key"] = "value"
            self.user_data[2]["foo"] = "bar"
            self.bot_data["key"] = "value"
            states: Any = handler_states
            self.conversations["conv_1"][(1, 1)] = states.STATE_1
            self.conversations["conv_1"][(2, 2)] = states.STATE_2
            self.conversations["conv_2"][(3, 3)] = states.STATE_3
            self.conversations["conv_2"][(4, 4)] = states.STATE_4
            self.callback_data = self.CALLBACK_DATA

        def reset_tracking(self) -> None:
            self.updated_user_ids.clear()
            self.updated_chat_ids.clear()
            self.dropped_user_ids.clear()
            self.dropped_chat_ids.clear()
            self.refreshed_chat_ids = collections.Counter()
            self.refreshed_user_ids = collections.Counter()
            self.updated_conversations.clear()
            self.updated_bot_data = False
            self.refreshed_bot_data = False
            self.updated_callback_data = False
            self.flushed = False

            self.chat_data = {}
            self.user_data = {}
            self.conversations = collections.defaultdict(dict)
            self.bot_data = {}
            self.callback_data = ([], {})

        # -- the attributes, mirrored to and from the store -------------------------------

        async def _read_record(self, store_key: str) -> dict[Any, Any] | None:
            stored = await self.store.get(store_key)
            if stored is None:
                return None
            return {
                self._field_key(store_key, name): self.codec.decode(value, key=store_key)
                for name, value in stored.items()
            }

        async def _forget(self, prefix: str) -> None:
            await self.store.purge(prefix)
            for key in [key for key in self._synced if key.startswith(prefix)]:
                del self._synced[key]

        async def _push_records(self, kind: str, records: Any) -> None:
            await self._forget(self._prefix(kind))
            for owner, data in dict(records).items():
                if kind == "chat":
                    await SessionkitPersistence.update_chat_data(self, owner, data)
                else:
                    await SessionkitPersistence.update_user_data(self, owner, data)

        # -- user, chat and bot data -----------------------------------------------------

        async def get_user_data(self) -> Any:
            await self._push_records("user", self.user_data)
            return await super().get_user_data()

        async def get_chat_data(self) -> Any:
            await self._push_records("chat", self.chat_data)
            return await super().get_chat_data()

        async def get_bot_data(self) -> Any:
            await self._forget(self._bot_key())
            await SessionkitPersistence.update_bot_data(self, self.bot_data)
            return await super().get_bot_data()

        async def update_bot_data(self, data: Any) -> None:
            self.updated_bot_data = True
            await super().update_bot_data(data)
            self.bot_data = await self._read_record(self._bot_key()) or {}

        async def update_chat_data(self, chat_id: int, data: Any) -> None:
            self.updated_chat_ids[chat_id] += 1
            await super().update_chat_data(chat_id, data)
            self.chat_data[chat_id] = await self._read_record(self._chat_key(chat_id))

        async def update_user_data(self, user_id: int, data: Any) -> None:
            self.updated_user_ids[user_id] += 1
            await super().update_user_data(user_id, data)
            self.user_data[user_id] = await self._read_record(self._user_key(user_id))

        async def drop_chat_data(self, chat_id: int) -> None:
            self.dropped_chat_ids[chat_id] += 1
            await super().drop_chat_data(chat_id)
            self.chat_data.pop(chat_id, None)

        async def drop_user_data(self, user_id: int) -> None:
            self.dropped_user_ids[user_id] += 1
            await super().drop_user_data(user_id)
            self.user_data.pop(user_id, None)

        async def refresh_user_data(self, user_id: int, user_data: Any) -> None:
            self.refreshed_user_ids[user_id] += 1
            await super().refresh_user_data(user_id, user_data)
            user_data["refreshed"] = True

        async def refresh_chat_data(self, chat_id: int, chat_data: Any) -> None:
            self.refreshed_chat_ids[chat_id] += 1
            await super().refresh_chat_data(chat_id, chat_data)
            chat_data["refreshed"] = True

        async def refresh_bot_data(self, bot_data: Any) -> None:
            self.refreshed_bot_data = True
            await super().refresh_bot_data(bot_data)
            bot_data["refreshed"] = True

        # -- callback data and conversations ---------------------------------------------

        async def get_callback_data(self) -> Any:
            await self._forget(self._prefix("callback_data")[:-1])
            if self.callback_data is not None:
                await SessionkitPersistence.update_callback_data(self, self.callback_data)
            return await super().get_callback_data()

        async def update_callback_data(self, data: Any) -> None:
            self.updated_callback_data = True
            await super().update_callback_data(data)
            self.callback_data = await super().get_callback_data()

        async def get_conversations(self, name: str) -> Any:
            await self.store.purge(self._conversation_prefix(name))
            for key, state in dict(self.conversations.get(name, {})).items():
                await SessionkitPersistence.update_conversation(self, name, key, state)
            return await super().get_conversations(name)

        async def update_conversation(self, name: str, key: Any, new_state: Any) -> None:
            self.updated_conversations[name][key] += 1
            await super().update_conversation(name, key, new_state)
            stored = await self.store.get(self._conversation_key(name, key))
            state = None if stored is None else self.codec.decode(stored["state"])
            self.conversations[name][key] = state

        async def flush(self) -> None:
            self.flushed = True
            await super().flush()

    return TrackingPersistence
