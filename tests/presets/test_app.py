"""The presets as an application pack: one line for every namespace, on the public API."""

from __future__ import annotations

import importlib
import warnings

import pytest

import sessionkit
from sessionkit import AsyncSessionManager, SessionManager, TTLPolicy
from sessionkit.presets import (
    ADMIN_POLICY,
    TARIFF_CREATION,
    AdminSessions,
    AsyncAdminSessions,
    AsyncDocumentApp,
    Conversations,
    DocumentApp,
    TemplateSession,
)

PRESET_NAMESPACES = [
    "templates",
    "documents",
    "extractions",
    "cancellations",
    "generated_documents",
    "admin",
    "conversations",
]


def test_the_top_level_and_the_manager_hold_no_preset_name() -> None:
    exported = set(sessionkit.__all__)
    assert not exported & {"TemplateSession", "WizardFlow", "TARIFF_CREATION", "Conversations"}
    for name in PRESET_NAMESPACES:
        assert not hasattr(SessionManager, name)
        assert not hasattr(AsyncSessionManager, name)


def test_document_app_gives_every_preset_namespace_of_the_manager() -> None:
    manager = SessionManager.from_url("memory://", sweep_interval=None)
    app = DocumentApp(manager)
    for name in PRESET_NAMESPACES:
        namespace = getattr(app, name)
        assert namespace.name == name
        assert manager.namespace(name, namespace.model) is namespace
    assert isinstance(app.admin, AdminSessions)
    assert isinstance(app.conversations, Conversations)
    assert app.admin.policy == ADMIN_POLICY
    app.templates.put("t1", TemplateSession(filename="lease.docx"))
    app.for_tenant("acme").templates.put("t1", TemplateSession())
    assert app.for_tenant("acme").templates.tenant == "acme"
    assert manager.stats().by_namespace() == {"templates": 2}
    manager.close()


async def test_async_document_app_and_policies_by_name() -> None:
    manager = AsyncSessionManager.from_url(
        "memory://", sweep_interval=None, policies={"admin": TTLPolicy.absolute(60)}
    )
    app = AsyncDocumentApp(manager)
    assert isinstance(app.admin, AsyncAdminSessions)
    await app.admin.start(7, TARIFF_CREATION)
    assert await app.admin.ttl(7) == pytest.approx(60, abs=1)
    await manager.close()


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("sessionkit", "TemplateSession"),
        ("sessionkit", "TARIFF_CREATION"),
        ("sessionkit.namespaces", "AdminSessions"),
        ("sessionkit.integrations.fastapi", "TemplatesDep"),
    ],
)
def test_old_import_paths_still_work_for_one_release_with_a_warning(
    module: str, name: str
) -> None:
    with pytest.warns(DeprecationWarning, match="moved to sessionkit.presets"):
        moved = getattr(importlib.import_module(module), name)
    presets = "sessionkit.presets.fastapi" if name.endswith("Dep") else "sessionkit.presets"
    assert moved is getattr(importlib.import_module(presets), name)


def test_an_unknown_attribute_is_still_an_attribute_error() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AttributeError):
            sessionkit.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
