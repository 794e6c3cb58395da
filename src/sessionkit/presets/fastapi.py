"""FastAPI dependencies for the document app's namespaces (an application pack).

::

    from fastapi import FastAPI
    from sessionkit.integrations.fastapi import sessionkit_lifespan
    from sessionkit.presets.fastapi import TemplatesDep

    app = FastAPI(lifespan=sessionkit_lifespan())

    @app.get("/templates/{template_id}")
    async def read_template(template_id: str, templates: TemplatesDep) -> dict[str, str]:
        ...
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from ..integrations.fastapi import ManagerDep
from ..namespaces._async.namespace import AsyncNamespace
from ._async.app import AsyncDocumentApp
from ._async.namespaces import AsyncAdminSessions, AsyncConversations
from .models import (
    CancellationSession,
    DocumentSession,
    ExtractionResult,
    GeneratedDocument,
    TemplateSession,
)

__all__ = [
    "AdminSessionsDep",
    "CancellationsDep",
    "ConversationsDep",
    "DocumentsDep",
    "ExtractionsDep",
    "GeneratedDocumentsDep",
    "TemplatesDep",
    "get_admin_sessions",
    "get_cancellations",
    "get_conversations",
    "get_documents",
    "get_extractions",
    "get_generated_documents",
    "get_templates",
]


async def get_templates(manager: ManagerDep) -> AsyncNamespace[TemplateSession]:
    """The ``templates`` namespace."""
    return AsyncDocumentApp(manager).templates


async def get_documents(manager: ManagerDep) -> AsyncNamespace[DocumentSession]:
    """The ``documents`` namespace."""
    return AsyncDocumentApp(manager).documents


async def get_extractions(manager: ManagerDep) -> AsyncNamespace[ExtractionResult]:
    """The ``extractions`` namespace."""
    return AsyncDocumentApp(manager).extractions


async def get_cancellations(manager: ManagerDep) -> AsyncNamespace[CancellationSession]:
    """The ``cancellations`` namespace."""
    return AsyncDocumentApp(manager).cancellations


async def get_generated_documents(manager: ManagerDep) -> AsyncNamespace[GeneratedDocument]:
    """The ``generated_documents`` namespace."""
    return AsyncDocumentApp(manager).generated_documents


async def get_admin_sessions(manager: ManagerDep) -> AsyncAdminSessions:
    """The ``admin`` namespace (wizards)."""
    return AsyncDocumentApp(manager).admin


async def get_conversations(manager: ManagerDep) -> AsyncConversations:
    """The ``conversations`` namespace."""
    return AsyncDocumentApp(manager).conversations


TemplatesDep = Annotated[AsyncNamespace[TemplateSession], Depends(get_templates)]
DocumentsDep = Annotated[AsyncNamespace[DocumentSession], Depends(get_documents)]
ExtractionsDep = Annotated[AsyncNamespace[ExtractionResult], Depends(get_extractions)]
CancellationsDep = Annotated[AsyncNamespace[CancellationSession], Depends(get_cancellations)]
GeneratedDocumentsDep = Annotated[
    AsyncNamespace[GeneratedDocument], Depends(get_generated_documents)
]
AdminSessionsDep = Annotated[AsyncAdminSessions, Depends(get_admin_sessions)]
ConversationsDep = Annotated[AsyncConversations, Depends(get_conversations)]
