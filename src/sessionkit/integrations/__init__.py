"""Adapters to the frameworks sessionkit is used from.

Each module imports its framework, so import the one you use:

* `sessionkit.integrations.fastapi` (extra ``fastapi``): lifespan, dependencies and a
  server-side cookie session middleware;
* `sessionkit.integrations.aiogram` (extra ``aiogram``): an FSM storage;
* `sessionkit.integrations.telegram` (extra ``telegram``): a python-telegram-bot
  persistence.
"""
