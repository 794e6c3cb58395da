# Generated from src/sessionkit/presets/_async/app.py by scripts/unasync.py: edit that file, not this one.
"""Every preset namespace of the document app and the admin bot, on one manager, in one line."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...namespaces._sync.namespace import Namespace
from ...namespaces.keyspace import SessionId
from ..models import (
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
from .namespaces import AdminSessions, Conversations

if TYPE_CHECKING:
    from ...manager._sync.manager import SessionManager

__all__ = ["DocumentApp"]


class DocumentApp:
    """The preset namespaces, defined on ``manager`` through its public ``namespace()``.

    ```pycon
    >>> import time
    >>> from sessionkit import SessionManager
    >>> def main() -> str | None:
    ...     with SessionManager.from_url("memory://") as manager:
    ...         app = DocumentApp(manager)
    ...         app.templates.put("t1", TemplateSession(filename="lease.docx"))
    ...         return (app.templates.get("t1")).filename
    >>> main()
    'lease.docx'

    ```

    The namespaces are the manager's own (``manager.namespace("templates", TemplateSession)``
    is ``app.templates``), so its ``stats()``, ``purge()`` and ``policies=`` cover them. For a
    tenant: ``DocumentApp(manager.for_tenant("acme"))`` or ``app.for_tenant("acme")``.
    """

    __slots__ = ("manager",)

    def __init__(self, manager: SessionManager) -> None:
        self.manager = manager

    def for_tenant(self, tenant_id: SessionId) -> DocumentApp:
        """The same namespaces, holding only ``tenant_id``'s sessions."""
        return DocumentApp(self.manager.for_tenant(tenant_id))

    @property
    def templates(self) -> Namespace[TemplateSession]:
        """Uploaded templates (24 h)."""
        return self.manager.namespace("templates", TemplateSession, policy=DOCUMENT_APP_POLICY)

    @property
    def documents(self) -> Namespace[DocumentSession]:
        """Document sessions (24 h)."""
        return self.manager.namespace("documents", DocumentSession, policy=DOCUMENT_APP_POLICY)

    @property
    def extractions(self) -> Namespace[ExtractionResult]:
        """Extraction results (24 h)."""
        return self.manager.namespace(
            "extractions", ExtractionResult, policy=DOCUMENT_APP_POLICY
        )

    @property
    def cancellations(self) -> Namespace[CancellationSession]:
        """Cancellation sessions (24 h)."""
        return self.manager.namespace(
            "cancellations", CancellationSession, policy=DOCUMENT_APP_POLICY
        )

    @property
    def generated_documents(self) -> Namespace[GeneratedDocument]:
        """Generated documents (24 h)."""
        return self.manager.namespace(
            "generated_documents", GeneratedDocument, policy=DOCUMENT_APP_POLICY
        )

    @property
    def admin(self) -> AdminSessions:
        """A bot's admin wizards (10 min)."""
        namespace = self.manager.namespace(
            "admin", AdminSession, policy=ADMIN_POLICY, namespace_class=AdminSessions
        )
        assert isinstance(namespace, AdminSessions)
        return namespace

    @property
    def conversations(self) -> Conversations:
        """Conversations (2 h renewed on write, at most 24 h)."""
        namespace = self.manager.namespace(
            "conversations",
            Conversation,
            policy=CONVERSATION_POLICY,
            namespace_class=Conversations,
        )
        assert isinstance(namespace, Conversations)
        return namespace

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.manager!r})"
