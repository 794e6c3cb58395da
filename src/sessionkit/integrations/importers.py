"""Bring bot state over: aiogram ``RedisStorage`` keys and a PTB ``PicklePersistence`` file.

Both importers are dry runs unless ``apply=True``, never change the source, and are
idempotent: a record the target already holds is left as it is (and counted), so running
one again, or after the switch, never overwrites what users wrote since. See
docs/migrating-from-redisstorage.md and docs/migrating-from-picklepersistence.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs

from ..errors import ConfigurationError, SerializationError

__all__ = ["BotImport", "import_aiogram_redis", "import_ptb_pickle"]


@attrs.frozen
class BotImport:
    """What an import found and did (or, in a dry run, would do)."""

    #: Records in the source (aiogram: state and data keys; PTB: users, chats, bot data,
    #: conversation keys, the callback-data cache).
    found: int = 0
    #: Records written (dry run: that would be written).
    imported: int = 0
    #: Records the target already holds: left untouched.
    already_present: int = 0
    #: Records not imported: keys that do not parse, values the target cannot store.
    skipped: int = 0
    #: One line per skipped record, saying why.
    problems: tuple[str, ...] = ()
    #: Whether nothing was written.
    dry_run: bool = True


async def import_aiogram_redis(  # noqa: PLR0915 - one pass over the keys
    source: Any,
    storage: Any,
    *,
    source_prefix: str = "fsm",
    separator: str = ":",
    with_bot_id: bool = False,
    with_business_connection_id: bool = False,
    with_destiny: bool = False,
    bot_id: int | None = None,
    apply: bool = False,
    batch_size: int = 500,
) -> BotImport:
    """Copy the FSM states and data an aiogram ``RedisStorage`` keeps in ``source`` (a
    ``redis.asyncio.Redis``) into ``storage`` (a `SessionkitStorage`).

    The ``source_prefix``, ``separator`` and ``with_*`` flags are those of the
    ``DefaultKeyBuilder`` the bot used. Keys without a bot id need ``bot_id=``.
    """
    from aiogram.fsm.storage.base import StorageKey  # noqa: PLC0415 - the aiogram extra

    if not with_bot_id and bot_id is None:
        raise ConfigurationError(
            "the source keys have no bot id (with_bot_id=False): pass bot_id=<the bot's id>"
        )
    parts_expected = 4 + with_bot_id + with_business_connection_id + with_destiny
    counts: dict[str, int] = {"found": 0, "imported": 0, "already_present": 0, "skipped": 0}
    problems: list[str] = []
    head = source_prefix + separator
    pattern = "".join("\\" + c if c in "*?[]\\" else c for c in head) + "*"
    async for raw_name in source.scan_iter(match=pattern, count=batch_size):
        name = raw_name.decode() if isinstance(raw_name, bytes) else str(raw_name)
        parts = name[len(head) :].split(separator)
        counts["found"] += 1
        if len(parts) != parts_expected - 1 or parts[-1] not in ("state", "data"):
            counts["skipped"] += 1
            problems.append(f"{name}: not a state or data key of this key layout")
            continue
        fields = iter(parts[:-1])
        try:
            key_bot = int(next(fields)) if with_bot_id else bot_id
            connection = next(fields) if with_business_connection_id else None
            chat_id, user_id = int(next(fields)), int(next(fields))
            destiny = next(fields) if with_destiny else "default"
        except ValueError:
            counts["skipped"] += 1
            problems.append(f"{name}: the ids are not integers")
            continue
        assert key_bot is not None
        key = StorageKey(
            bot_id=key_bot,
            chat_id=chat_id,
            user_id=user_id,
            business_connection_id=connection,
            destiny=destiny,
        )
        value = await source.get(raw_name)
        if value is None:  # expired while the import ran
            counts["skipped"] += 1
            problems.append(f"{name}: gone while importing")
            continue
        text = value.decode() if isinstance(value, bytes) else str(value)
        if parts[-1] == "state":
            present = await storage.get_state(key) is not None
        else:
            present = bool(await storage.get_data(key))
        if present:
            counts["already_present"] += 1
            continue
        try:
            if parts[-1] == "state":
                if apply:
                    await storage.set_state(key, text)
            else:
                data = json.loads(text)
                if not isinstance(data, dict):
                    raise ValueError("FSM data is not a JSON object")
                if apply:
                    await storage.set_data(key, data)
        except (ValueError, SerializationError) as error:
            counts["skipped"] += 1
            problems.append(f"{name}: {error}")
            continue
        counts["imported"] += 1
    return BotImport(**counts, problems=tuple(problems), dry_run=not apply)


async def import_ptb_pickle(
    path: str | Path,
    persistence: Any,
    *,
    single_file: bool = True,
    apply: bool = False,
) -> BotImport:
    """Copy what a python-telegram-bot ``PicklePersistence`` file holds into
    ``persistence`` (a `SessionkitPersistence`, with the ``types``/``allowed_paths`` the
    data needs).

    The file is read with PTB's own ``PicklePersistence``: **unpickling runs code, so
    import only a file your bot wrote.** A value the target cannot store skips that user's
    (chat's, ...) record, with the reason in ``problems``; the rest is imported.
    """
    from telegram.ext import PicklePersistence  # noqa: PLC0415 - the telegram extra

    file = Path(path)
    if not file.exists():  # noqa: ASYNC240 - once, before anything else
        raise ConfigurationError(f"no PicklePersistence file at {file}")
    source = PicklePersistence(file, single_file=single_file)
    counts: dict[str, int] = {"found": 0, "imported": 0, "already_present": 0, "skipped": 0}
    problems: list[str] = []
    codec = persistence.codec

    def storable(what: str, value: Any) -> bool:
        try:
            codec.encode(value, where=what)
        except SerializationError as error:
            counts["skipped"] += 1
            problems.append(str(error))
            return False
        return True

    async def put(what: str, present: bool, value: Any, write: Any) -> None:
        counts["found"] += 1
        if present:
            counts["already_present"] += 1
            return
        if not storable(what, value):
            return
        if apply:
            await write()
        counts["imported"] += 1

    existing_users = await persistence.get_user_data()
    for user_id, data in ((await source.get_user_data()) or {}).items():
        await put(
            f"user_data[{user_id}]",
            user_id in existing_users,
            data,
            lambda u=user_id, d=data: persistence.update_user_data(u, d),
        )
    existing_chats = await persistence.get_chat_data()
    for chat_id, data in ((await source.get_chat_data()) or {}).items():
        await put(
            f"chat_data[{chat_id}]",
            chat_id in existing_chats,
            data,
            lambda c=chat_id, d=data: persistence.update_chat_data(c, d),
        )
    bot_data = await source.get_bot_data()
    if bot_data:
        present = await persistence.store.exists(persistence._bot_key())
        await put("bot_data", present, bot_data, lambda: persistence.update_bot_data(bot_data))
    callback_data = await source.get_callback_data()
    if callback_data is not None and (callback_data[0] or callback_data[1]):
        present = await persistence.get_callback_data() is not None
        await put(
            "callback_data",
            present,
            [buttons for _, _, buttons in callback_data[0]],
            lambda: persistence.update_callback_data(callback_data),
        )
    await source.get_conversations("")  # loads every conversation of the file
    for name, conversations in (source.conversations or {}).items():
        existing = await persistence.get_conversations(name)
        for key, state in conversations.items():
            if state is None:
                continue
            await put(
                f"conversation[{name!r}][{key!r}]",
                key in existing,
                state,
                lambda n=name, k=key, s=state: persistence.update_conversation(n, k, s),
            )
    return BotImport(**counts, problems=tuple(problems), dry_run=not apply)
