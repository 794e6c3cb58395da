"""Deprecated aliases for names that moved to `sessionkit.presets` (one release)."""

from __future__ import annotations

import importlib
import warnings
from typing import Any

__all__ = ["PRESET_NAMES", "moved_attribute"]

#: Every name the top level and ``sessionkit.namespaces`` exported before the presets moved.
PRESET_NAMES = frozenset(
    {
        "CHANNEL_REGISTRATION",
        "TARIFF_CREATION",
        "TARIFF_EDIT",
        "AdminSession",
        "AdminSessions",
        "AsyncAdminSessions",
        "AsyncConversations",
        "CancellationSession",
        "Conversation",
        "Conversations",
        "DocumentSession",
        "ExtractionResult",
        "GeneratedDocument",
        "TemplateSession",
        "WizardError",
        "WizardFlow",
    }
)


def moved_attribute(module: str, name: str) -> Any:
    """``sessionkit.presets.<name>`` with a DeprecationWarning, for a module ``__getattr__``."""
    if name not in PRESET_NAMES:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    warnings.warn(
        f"{module}.{name} moved to sessionkit.presets.{name}; import it from there",
        DeprecationWarning,
        stacklevel=3,
    )
    return getattr(importlib.import_module("sessionkit.presets"), name)
