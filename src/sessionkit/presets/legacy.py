"""A thin facade with the method names of a document app's first, in-memory session manager.

For migrating an app that calls ``store_template_session(id, data)`` and friends with
plain dicts: swap its singleton for `LegacySessionManager` and it keeps working,
on any store URL, while endpoints move to the typed API one by one (docs/migrating.md).

Dicts are stored as the typed preset classes: keys that are preset fields of the right type
become fields, every other key goes to the class's ``data`` dict, and ``get_*`` hands back
the same keys (plus the preset fields' defaults). A dict that does not fit the preset is
stored entirely in ``data``, so nothing is ever lost or silently converted.

```pycon
>>> sessions = LegacySessionManager(SessionManager.from_url("memory://", sweep_interval=None))
>>> sessions.store_template_session("t1", {"filename": "lease.docx", "pages": 3})
>>> sessions.get_template_session("t1")["pages"]
3
>>> sessions.app.templates.get("t1").filename  # the typed view of the same session
'lease.docx'
>>> sessions.get_stats()["template_sessions"]
1
>>> sessions.close()

```
"""

from __future__ import annotations

from typing import Any, TypeVar

import attrs

from ..manager import SessionManager
from ..namespaces import Namespace
from ..namespaces.model import default_converter
from ._sync.app import DocumentApp

__all__ = ["LegacySessionManager", "from_mapping", "to_mapping"]

T = TypeVar("T")

_CATCH_ALL = "data"


def to_mapping(obj: object) -> dict[str, Any]:
    """A preset object as one flat dict: its fields, then its ``data`` entries (which win)."""
    fields: dict[str, Any] = default_converter.unstructure(obj)
    extra = fields.pop(_CATCH_ALL, {})
    return {**fields, **extra}


def from_mapping(model: type[T], mapping: dict[str, Any]) -> T:
    """The preset object for a flat dict, so that `to_mapping` gives its keys back."""
    names = {field.name for field in attrs.fields(model)} - {_CATCH_ALL}  # type: ignore[arg-type]
    known = {key: value for key, value in mapping.items() if key in names}
    extra = {key: value for key, value in mapping.items() if key not in names}
    try:
        candidate = default_converter.structure({**known, _CATCH_ALL: extra}, model)
    except Exception:  # a key named like a field holds something else: keep it all as data
        candidate = None
    if candidate is not None:
        back = to_mapping(candidate)
        if all(key in back and back[key] == value for key, value in mapping.items()):
            return candidate
    return default_converter.structure({_CATCH_ALL: dict(mapping)}, model)


class LegacySessionManager:
    """The old manager's 15 session methods and ``get_stats()``, over a `SessionManager`."""

    def __init__(self, manager: SessionManager) -> None:
        self.manager = manager
        #: The typed view of the same sessions.
        self.app = DocumentApp(manager)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> LegacySessionManager:
        return cls(SessionManager.from_url(url, **options))

    # -- the five kinds: store, get, delete -------------------------------------------------

    def store_template_session(self, template_id: str, data: dict[str, Any]) -> None:
        _store(self.app.templates, template_id, data)

    def get_template_session(self, template_id: str) -> dict[str, Any] | None:
        return _get(self.app.templates, template_id)

    def delete_template_session(self, template_id: str) -> bool:
        return self.app.templates.delete(template_id)

    def store_document_session(self, session_id: str, data: dict[str, Any]) -> None:
        _store(self.app.documents, session_id, data)

    def get_document_session(self, session_id: str) -> dict[str, Any] | None:
        return _get(self.app.documents, session_id)

    def delete_document_session(self, session_id: str) -> bool:
        return self.app.documents.delete(session_id)

    def store_extraction_result(self, session_id: str, data: dict[str, Any]) -> None:
        _store(self.app.extractions, session_id, data)

    def get_extraction_result(self, session_id: str) -> dict[str, Any] | None:
        return _get(self.app.extractions, session_id)

    def delete_extraction_result(self, session_id: str) -> bool:
        return self.app.extractions.delete(session_id)

    def store_cancelacion_session(self, session_id: str, data: dict[str, Any]) -> None:
        _store(self.app.cancellations, session_id, data)

    def get_cancelacion_session(self, session_id: str) -> dict[str, Any] | None:
        return _get(self.app.cancellations, session_id)

    def delete_cancelacion_session(self, session_id: str) -> bool:
        return self.app.cancellations.delete(session_id)

    def store_generated_document(self, doc_id: str, data: dict[str, Any]) -> None:
        _store(self.app.generated_documents, doc_id, data)

    def get_generated_document(self, doc_id: str) -> dict[str, Any] | None:
        return _get(self.app.generated_documents, doc_id)

    def delete_generated_document(self, doc_id: str) -> bool:
        return self.app.generated_documents.delete(doc_id)

    # -- the rest -------------------------------------------------------------------------------

    def get_stats(self) -> dict[str, int]:
        """Live sessions per kind (default tenant), under the old singleton's names."""
        counts = self.manager.stats().by_tenant().get(None, {})
        stats = {old: counts.get(new, 0) for old, new in _OLD_NAMES.items()}
        return {**stats, "total": sum(stats.values())}

    def cleanup_expired(self) -> int:
        """Reclaim expired sessions now (the manager's sweeper also does it)."""
        return self.manager.sweep()

    def close(self) -> None:
        self.manager.close()


_OLD_NAMES = {
    "template_sessions": "templates",
    "document_sessions": "documents",
    "extraction_results": "extractions",
    "cancelacion_sessions": "cancellations",
    "generated_documents": "generated_documents",
}


def _store(namespace: Namespace[Any], session_id: str, data: dict[str, Any]) -> None:
    namespace.put(session_id, from_mapping(namespace.model, data))


def _get(namespace: Namespace[Any], session_id: str) -> dict[str, Any] | None:
    obj = namespace.get(session_id)
    return None if obj is None else to_mapping(obj)
