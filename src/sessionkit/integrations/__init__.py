"""Adapters to the frameworks sessionkit is used from.

Each module imports its framework, so import the one you use:

* :mod:`sessionkit.integrations.fastapi` (extra ``fastapi``): lifespan, dependencies and a
  server-side cookie session middleware;
* :mod:`sessionkit.integrations.aiogram` (extra ``aiogram``): an FSM storage;
* :mod:`sessionkit.integrations.telegram` (extra ``telegram``): a python-telegram-bot
  persistence.
"""
