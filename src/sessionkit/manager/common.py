"""What the sync and async managers share: presets, the namespace registry, stats, env parsing."""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import cattrs

from ..clock import Clock
from ..errors import ConfigurationError
from ..namespaces.keyspace import namespace_of, validate_namespace_name
from ..namespaces.model import default_converter
from ..namespaces.policy import TTLPolicy
from ..namespaces.presets import (
    ADMIN_POLICY,
    CONVERSATION_POLICY,
    DOCUMENT_APP_POLICY,
    AdminSession,
    CancellationSession,
    Conversation,
    DocumentSession,
    ExtractionResult,
    GeneratedDocument,
    TemplateSession,
)

__all__ = [
    "DEFAULT_SWEEP_INTERVAL",
    "ENV_PREFIX",
    "PRESETS",
    "NamespaceRegistry",
    "SessionStats",
    "StatsTally",
    "options_from_env",
]

#: Seconds between two background sweeps, unless configured otherwise.
DEFAULT_SWEEP_INTERVAL = 60.0

ENV_PREFIX = "SESSIONKIT_"

#: The preset namespaces: name (also the manager attribute) -> (model, default policy).
PRESETS: dict[str, tuple[type, TTLPolicy]] = {
    "templates": (TemplateSession, DOCUMENT_APP_POLICY),
    "documents": (DocumentSession, DOCUMENT_APP_POLICY),
    "extractions": (ExtractionResult, DOCUMENT_APP_POLICY),
    "cancellations": (CancellationSession, DOCUMENT_APP_POLICY),
    "generated_documents": (GeneratedDocument, DOCUMENT_APP_POLICY),
    "admin": (AdminSession, ADMIN_POLICY),
    "conversations": (Conversation, CONVERSATION_POLICY),
}


@attrs.frozen
class NamespaceDefinition:
    model: type
    policy: TTLPolicy
    converter: cattrs.Converter


class NamespaceRegistry:
    """The namespaces a manager (and every tenant view of it) knows: one name, one model."""

    def __init__(self, clock: Clock, policies: Mapping[str, TTLPolicy] | None = None) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        unknown = sorted(set(policies or {}) - set(PRESETS))
        if unknown:
            raise ConfigurationError(
                f"policies are for preset namespaces ({', '.join(PRESETS)}); unknown: "
                f"{', '.join(unknown)} (give your own namespaces their policy in namespace())"
            )
        for name, policy in (policies or {}).items():
            if not isinstance(policy, TTLPolicy):
                raise ConfigurationError(
                    f"the policy for {name!r} is a TTLPolicy (TTLPolicy.absolute(600), ...), "
                    f"not {type(policy).__name__}: {policy!r}"
                )
        self._definitions = {
            name: NamespaceDefinition(model, (policies or {}).get(name, policy), default_converter)
            for name, (model, policy) in PRESETS.items()
        }

    def policy(self, name: str) -> TTLPolicy:
        return self._definitions[name].policy

    def define(
        self,
        name: str,
        model: type,
        policy: TTLPolicy | None,
        converter: cattrs.Converter | None,
    ) -> NamespaceDefinition:
        """Register ``name`` (or return its definition if it matches the existing one)."""
        validate_namespace_name(name)
        with self._lock:
            existing = self._definitions.get(name)
            if existing is None:
                definition = NamespaceDefinition(
                    model, policy or TTLPolicy.none(), converter or default_converter
                )
                self._definitions[name] = definition
                return definition
        if existing.model is not model:
            raise ConfigurationError(
                f"namespace {name!r} already holds {existing.model.__name__}, not "
                f"{model.__name__}: one name, one class (choose another name)"
            )
        if (policy is not None and policy != existing.policy) or (
            converter is not None and converter is not existing.converter
        ):
            raise ConfigurationError(
                f"namespace {name!r} is already defined with policy {existing.policy!r}; "
                "it cannot be redefined with another policy or converter"
            )
        return existing

    def names(self) -> list[str]:
        with self._lock:
            return list(self._definitions)


@attrs.frozen
class SessionStats:
    """How many live sessions there are, per tenant and namespace.

    ``counts`` maps ``(tenant, namespace)`` to a count; the default tenant is ``None``.
    Only namespace sessions (keys under a namespace's prefix) are counted there and in
    :attr:`total`. ``other`` is how many other keys the scan met (the integrations'
    ``~websession:``, ``~aiogram:``, ``~ptb:`` keys, keys written to the store directly):
    reported for information, never in :attr:`total`, and never purged by the manager.
    """

    counts: Mapping[tuple[str | None, str], int]
    other: int = 0

    @classmethod
    def from_keys(cls, keys: Iterable[str]) -> SessionStats:
        tally = StatsTally()
        for key in keys:
            tally.add(key)
        return tally.stats()

    @property
    def total(self) -> int:
        """Every namespace session counted (``other`` keys are not sessions: not included)."""
        return sum(self.counts.values())

    def by_namespace(self) -> dict[str, int]:
        """Counts per namespace, all tenants together."""
        totals: Counter[str] = Counter()
        for (_, namespace), count in self.counts.items():
            totals[namespace] += count
        return dict(totals)

    def by_tenant(self) -> dict[str | None, dict[str, int]]:
        """Counts per tenant (``None``: the default tenant), then per namespace."""
        tenants: dict[str | None, dict[str, int]] = {}
        for (tenant, namespace), count in self.counts.items():
            tenants.setdefault(tenant, {})[namespace] = count
        return tenants


class StatsTally:
    """Counts keys into a :class:`SessionStats` one at a time, while a scan runs."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str | None, str]] = Counter()
        self._other = 0

    def add(self, key: str) -> None:
        found = namespace_of(key)
        if found is None:
            self._other += 1
        else:
            self._counts[found] += 1

    def stats(self) -> SessionStats:
        return SessionStats(dict(self._counts), self._other)


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
      with a :class:`ConfigurationError` listing the ones it accepts.
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
