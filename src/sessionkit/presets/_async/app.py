"""Every preset namespace of the document app and the admin bot, on one manager, in one line."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...namespaces._async.namespace import AsyncNamespace
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
from .namespaces import AsyncAdminSessions, AsyncConversations

if TYPE_CHECKING:
    from ...manager._async.manager import AsyncSessionManager

__all__ = ["AsyncDocumentApp"]


class AsyncDocumentApp:
    """The preset namespaces, defined on ``manager`` through its public ``namespace()``.

    ```pycon
    >>> import asyncio
    >>> from sessionkit import AsyncSessionManager
    >>> async def main() -> str | None:
    ...     async with AsyncSessionManager.from_url("memory://") as manager:
    ...         app = AsyncDocumentApp(manager)
    ...         await app.templates.put("t1", TemplateSession(filename="lease.docx"))
    ...         return (await app.templates.get("t1")).filename
    >>> asyncio.run(main())
    'lease.docx'

    ```

    The namespaces are the manager's own (``manager.namespace("templates", TemplateSession)``
    is ``app.templates``), so its ``stats()``, ``purge()`` and ``policies=`` cover them. For a
    tenant: ``AsyncDocumentApp(manager.for_tenant("acme"))`` or ``app.for_tenant("acme")``.
    """

    __slots__ = ("manager",)

    def __init__(self, manager: AsyncSessionManager) -> None:
        self.manager = manager

    def for_tenant(self, tenant_id: SessionId) -> AsyncDocumentApp:
        """The same namespaces, holding only ``tenant_id``'s sessions."""
        return AsyncDocumentApp(self.manager.for_tenant(tenant_id))

    @property
    def templates(self) -> AsyncNamespace[TemplateSession]:
        """Uploaded templates (24 h)."""
        return self.manager.namespace("templates", TemplateSession, policy=DOCUMENT_APP_POLICY)

    @property
    def documents(self) -> AsyncNamespace[DocumentSession]:
        """Document sessions (24 h)."""
        return self.manager.namespace("documents", DocumentSession, policy=DOCUMENT_APP_POLICY)

    @property
    def extractions(self) -> AsyncNamespace[ExtractionResult]:
        """Extraction results (24 h)."""
        return self.manager.namespace(
            "extractions", ExtractionResult, policy=DOCUMENT_APP_POLICY
        )

    @property
    def cancellations(self) -> AsyncNamespace[CancellationSession]:
        """Cancellation sessions (24 h)."""
        return self.manager.namespace(
            "cancellations", CancellationSession, policy=DOCUMENT_APP_POLICY
        )

    @property
    def generated_documents(self) -> AsyncNamespace[GeneratedDocument]:
        """Generated documents (24 h)."""
        return self.manager.namespace(
            "generated_documents", GeneratedDocument, policy=DOCUMENT_APP_POLICY
        )

    @property
    def admin(self) -> AsyncAdminSessions:
        """A bot's admin wizards (10 min)."""
        namespace = self.manager.namespace(
            "admin", AdminSession, policy=ADMIN_POLICY, namespace_class=AsyncAdminSessions
        )
        assert isinstance(namespace, AsyncAdminSessions)
        return namespace

    @property
    def conversations(self) -> AsyncConversations:
        """Conversations (2 h renewed on write, at most 24 h)."""
        namespace = self.manager.namespace(
            "conversations",
            Conversation,
            policy=CONVERSATION_POLICY,
            namespace_class=AsyncConversations,
        )
        assert isinstance(namespace, AsyncConversations)
        return namespace

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.manager!r})"
