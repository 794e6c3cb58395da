"""The manager's configuration from ``SESSIONKIT_*`` environment variables."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigurationError

__all__ = ["DEFAULT_SWEEP_INTERVAL", "ENV_PREFIX", "options_from_env"]

#: Seconds between two background sweeps, unless configured otherwise.
DEFAULT_SWEEP_INTERVAL = 60.0

ENV_PREFIX = "SESSIONKIT_"


def options_from_env(
    environ: Mapping[str, str] | None = None,
) -> tuple[str, float | None, dict[str, Any]]:
    """``(url, sweep_interval, store options)`` from ``SESSIONKIT_*`` variables.

    * ``SESSIONKIT_URL`` (required): the store URL.
    * ``SESSIONKIT_SWEEP_INTERVAL``: seconds between background sweeps; ``0`` or ``off``
      turns the sweeper off. Default: 60.
    * Any other ``SESSIONKIT_<NAME>`` becomes the store option ``<name>`` (lower case), its
      value read as JSON when it parses (``3600``, ``true``, ``1.5``) and as a string
      otherwise: ``SESSIONKIT_DEFAULT_TTL=86400``. A store rejects options it does not know
      with a `ConfigurationError` listing the ones it accepts.
    """
    env = os.environ if environ is None else environ
    url = env.get(f"{ENV_PREFIX}URL")
    if not url:
        raise ConfigurationError(
            f"{ENV_PREFIX}URL is not set; set it to a store URL such as memory:// or "
            "sqlite:///sessions.db"
        )
    sweep_interval: float | None = DEFAULT_SWEEP_INTERVAL
    options: dict[str, Any] = {}
    for name, text in env.items():
        if not name.startswith(ENV_PREFIX) or name == f"{ENV_PREFIX}URL":
            continue
        option = name[len(ENV_PREFIX) :].lower()
        if option == "sweep_interval":
            sweep_interval = _interval(text)
        elif option:
            options[option] = _parse(text)
    return url, sweep_interval, options


def _parse(text: str) -> Any:
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, (bool, int, float)) or value is None else text


def _interval(text: str) -> float | None:
    if text.strip().lower() in ("0", "off", "false", "no", ""):
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ConfigurationError(
            f"{ENV_PREFIX}SWEEP_INTERVAL is seconds between sweeps (or 0/off), not {text!r}"
        )
    return seconds
