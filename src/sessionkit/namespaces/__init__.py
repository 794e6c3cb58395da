"""Typed namespaces: attrs classes over a store, with tenants, TTL policies and presets."""

from ._async.namespace import AsyncNamespace
from ._async.presets import AsyncAdminSessions, AsyncConversations
from ._sync.namespace import Namespace
from ._sync.presets import AdminSessions, Conversations
from .keyspace import KeySpace, SessionId, parse_key
from .model import META_KEY, CorruptSession, default_converter, make_strict_converter
from .policy import InvalidPolicy, TTLPolicy
from .presets import (
    CHANNEL_REGISTRATION,
    TARIFF_CREATION,
    TARIFF_EDIT,
    AdminSession,
    CancellationSession,
    Conversation,
    DocumentSession,
    ExtractionResult,
    GeneratedDocument,
    TemplateSession,
    WizardError,
    WizardFlow,
)

__all__ = [
    "CHANNEL_REGISTRATION",
    "META_KEY",
    "TARIFF_CREATION",
    "TARIFF_EDIT",
    "AdminSession",
    "AdminSessions",
    "AsyncAdminSessions",
    "AsyncConversations",
    "AsyncNamespace",
    "CancellationSession",
    "Conversation",
    "Conversations",
    "CorruptSession",
    "DocumentSession",
    "ExtractionResult",
    "GeneratedDocument",
    "InvalidPolicy",
    "KeySpace",
    "Namespace",
    "SessionId",
    "TTLPolicy",
    "TemplateSession",
    "WizardError",
    "WizardFlow",
    "default_converter",
    "make_strict_converter",
    "parse_key",
]
