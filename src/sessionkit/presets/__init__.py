"""An application pack on the generic API: the sessions of a document-processing API, a
bot's admin wizards and a chat app, as attrs classes with their TTL policies.

Nothing here is special to the manager: every namespace is defined through
``manager.namespace(name, cls, policy=...)``. One line gives the document app all of them:

```pycon
>>> from sessionkit import SessionManager
>>> from sessionkit.presets import DocumentApp, TemplateSession
>>> app = DocumentApp(SessionManager.from_url("memory://", sweep_interval=None))
>>> app.templates.put("t1", TemplateSession(filename="lease.docx"))
>>> app.templates.get("t1").filename, app.manager.stats().total
('lease.docx', 1)
>>> app.manager.close()

```

* the document app (24 h absolute TTL): `TemplateSession`, `DocumentSession`,
  `ExtractionResult`, `CancellationSession`, `GeneratedDocument`;
* a bot's admin wizards (10 min): `AdminSession` walking a `WizardFlow`
  (`TARIFF_CREATION`, `TARIFF_EDIT`, `CHANNEL_REGISTRATION`), in an
  `AdminSessions` namespace;
* a chat app (2 h renewed on write, at most 24 h): `Conversation` in
  `Conversations`;
* `sessionkit.presets.legacy`: the method names of the app's first in-memory
  session manager, for migrating it; `sessionkit.presets.fastapi`: its dependencies.
"""

from ._async.app import AsyncDocumentApp
from ._async.namespaces import AsyncAdminSessions, AsyncConversations
from ._sync.app import DocumentApp
from ._sync.namespaces import AdminSessions, Conversations
from .models import (
    ADMIN_POLICY,
    CHANNEL_REGISTRATION,
    CONVERSATION_POLICY,
    DOCUMENT_APP_POLICY,
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
    advance_wizard,
    back_wizard,
    start_wizard,
    with_message,
)

__all__ = [
    "ADMIN_POLICY",
    "CHANNEL_REGISTRATION",
    "CONVERSATION_POLICY",
    "DOCUMENT_APP_POLICY",
    "TARIFF_CREATION",
    "TARIFF_EDIT",
    "AdminSession",
    "AdminSessions",
    "AsyncAdminSessions",
    "AsyncConversations",
    "AsyncDocumentApp",
    "CancellationSession",
    "Conversation",
    "Conversations",
    "DocumentApp",
    "DocumentSession",
    "ExtractionResult",
    "GeneratedDocument",
    "TemplateSession",
    "WizardError",
    "WizardFlow",
    "advance_wizard",
    "back_wizard",
    "start_wizard",
    "with_message",
]
