"""The namespaces a manager knows: one name, one class, one TTL policy, in every tenant."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import attrs
import cattrs

from ..clock import Clock
from ..errors import ConfigurationError
from ..namespaces.keyspace import validate_namespace_name
from ..namespaces.model import default_converter
from ..namespaces.policy import TTLPolicy

__all__ = ["NamespaceDefinition", "NamespaceRegistry"]


@attrs.frozen
class NamespaceDefinition:
    model: type
    policy: TTLPolicy
    converter: cattrs.Converter
    #: The Namespace subclass built for this name (None: the plain Namespace).
    namespace_class: Any = None


class NamespaceRegistry:
    """The namespaces a manager (and every tenant view of it) knows: one name, one model.

    ``policies`` maps namespace names to the policy that wins over the one the namespace
    is defined with (the application's configuration over an application pack's default).
    """

    def __init__(self, clock: Clock, policies: Mapping[str, TTLPolicy] | None = None) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        for name, policy in (policies or {}).items():
            validate_namespace_name(name)
            if not isinstance(policy, TTLPolicy):
                raise ConfigurationError(
                    f"the policy for {name!r} is a TTLPolicy (TTLPolicy.absolute(600), ...), "
                    f"not {type(policy).__name__}: {policy!r}"
                )
        self._overrides = dict(policies or {})
        self._definitions: dict[str, NamespaceDefinition] = {}

    def define(
        self,
        name: str,
        model: type,
        policy: TTLPolicy | None,
        converter: cattrs.Converter | None,
        namespace_class: Any = None,
    ) -> NamespaceDefinition:
        """Register ``name`` (or return its definition if it matches the existing one)."""
        validate_namespace_name(name)
        effective = self._overrides.get(name, policy)
        with self._lock:
            existing = self._definitions.get(name)
            if existing is None:
                definition = NamespaceDefinition(
                    model,
                    effective or TTLPolicy.none(),
                    converter or default_converter,
                    namespace_class,
                )
                self._definitions[name] = definition
                return definition
        if existing.model is not model:
            raise ConfigurationError(
                f"namespace {name!r} already holds {existing.model.__name__}, not "
                f"{model.__name__}: one name, one class (choose another name)"
            )
        if (
            (effective is not None and effective != existing.policy)
            or (converter is not None and converter is not existing.converter)
            or (namespace_class is not None and namespace_class is not existing.namespace_class)
        ):
            raise ConfigurationError(
                f"namespace {name!r} is already defined with policy {existing.policy!r}; "
                "it cannot be redefined with another policy, converter or namespace class"
            )
        return existing

    def names(self) -> list[str]:
        with self._lock:
            return list(self._definitions)
