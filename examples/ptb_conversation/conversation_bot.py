"""A python-telegram-bot conversation that survives a restart.

The ConversationHandler is persistent and its state, with ``user_data``, lives in a
sessionkit store: stop the bot between two answers, start it again, and it asks the next
question as if nothing happened.

Run it (needs a bot token from @BotFather)::

    TELEGRAM_BOT_TOKEN=123:abc SESSIONKIT_URL=sqlite:///ptb-sessions.db \
        python examples/ptb_conversation/conversation_bot.py
"""

from __future__ import annotations

import os
from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from sessionkit.integrations.telegram import SessionkitPersistence

NAME, AGE = "name", "age"  # strs as states: readable in the store


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    assert update.effective_message is not None
    await update.effective_message.reply_text("Hi! What's your name?")
    return NAME


async def got_name(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    assert update.effective_message is not None
    assert context.user_data is not None
    context.user_data["name"] = update.effective_message.text
    await update.effective_message.reply_text(
        f"Nice to meet you, {context.user_data['name']}. Age?"
    )
    return AGE


async def got_age(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    assert update.effective_message is not None
    assert context.user_data is not None
    text = update.effective_message.text or ""
    if not text.isdigit():
        await update.effective_message.reply_text("Your age in years, please (digits only).")
        return AGE
    context.user_data["age"] = int(text)
    await update.effective_message.reply_text(
        f"Thanks! Saved: {context.user_data['name']}, {context.user_data['age']}."
    )
    return ConversationHandler.END


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    assert update.effective_message is not None
    await update.effective_message.reply_text("Cancelled.")
    return ConversationHandler.END


def build_application(
    persistence: SessionkitPersistence,
    *,
    token: str,
    request: BaseRequest | None = None,
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The bot; ``request`` replaces the HTTP client (tests pass one that stays offline)."""
    builder = Application.builder().token(token).persistence(persistence)
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    application = builder.build()
    text = filters.TEXT & ~filters.COMMAND
    application.add_handler(
        ConversationHandler(
            entry_points=[CommandHandler("start", start)],
            states={
                NAME: [MessageHandler(text, got_name)],
                AGE: [MessageHandler(text, got_age)],
            },
            fallbacks=[CommandHandler("cancel", cancel)],
            name="profile",
            persistent=True,
        )
    )
    return application


def main() -> None:
    url = os.environ.get("SESSIONKIT_URL", "sqlite:///ptb-sessions.db")
    persistence = SessionkitPersistence.from_url(url, update_interval=5)
    build_application(persistence, token=os.environ["TELEGRAM_BOT_TOKEN"]).run_polling()


if __name__ == "__main__":
    main()
