"""The seed 000 facade: its dicts go in and come back out unchanged, typed underneath."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionkit import (
    FakeClock,
    SerializationError,
    SessionManager,
)
from sessionkit.presets import (
    DocumentApp,
    TemplateSession,
)
from sessionkit.presets.legacy import LegacySessionManager

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
# Keys named like preset fields (with fitting and unfitting values) and anything else.
keys = st.sampled_from(["filename", "status", "placeholders", "data", "file_urls"]) | st.text()
payloads = st.dictionaries(keys, json_values, max_size=6)


@pytest.fixture
def legacy() -> Iterator[tuple[LegacySessionManager, FakeClock]]:
    clock = FakeClock()
    sessions = LegacySessionManager.from_url("memory://", clock=clock, sweep_interval=None)
    yield sessions, clock
    sessions.close()


@given(data=payloads)
def test_every_dict_comes_back_with_the_same_keys_and_values(data: dict[str, Any]) -> None:
    sessions = LegacySessionManager.from_url("memory://", sweep_interval=None)
    for store, get in [
        (sessions.store_template_session, sessions.get_template_session),
        (sessions.store_document_session, sessions.get_document_session),
        (sessions.store_extraction_result, sessions.get_extraction_result),
        (sessions.store_cancelacion_session, sessions.get_cancelacion_session),
        (sessions.store_generated_document, sessions.get_generated_document),
    ]:
        store("id-1", data)
        back = get("id-1")
        assert back is not None
        assert {key: back[key] for key in data} == data


def test_seed_000_extraction_flow(legacy: tuple[LegacySessionManager, FakeClock]) -> None:
    sessions, clock = legacy
    sessions.store_document_session("s1", {"categorized_files": [{"name": "dni.pdf"}]})
    assert sessions.get_document_session("s1") is not None
    sessions.store_extraction_result("s1", {"ocr_data": {"text": "..."}})
    result = sessions.get_extraction_result("s1")
    assert result is not None
    result["ai_extracted_data"] = {"name": "Ana"}
    sessions.store_extraction_result("s1", result)
    extraction = sessions.app.extractions.get("s1")
    assert extraction is not None
    assert extraction.ai_extracted_data == {"name": "Ana"}
    assert sessions.get_stats() == {
        "template_sessions": 0,
        "document_sessions": 1,
        "extraction_results": 1,
        "cancelacion_sessions": 0,
        "generated_documents": 0,
        "total": 2,
    }
    assert sessions.delete_document_session("s1")
    assert not sessions.delete_document_session("s1")
    clock.advance(24 * 3600)
    assert sessions.cleanup_expired() == 1
    assert sessions.get_extraction_result("s1") is None


def test_typed_and_legacy_views_share_sessions(
    legacy: tuple[LegacySessionManager, FakeClock],
) -> None:
    sessions, _ = legacy
    sessions.app.templates.put("t1", TemplateSession(filename="a.docx", status="confirmed"))
    assert sessions.get_template_session("t1") == {
        "filename": "a.docx",
        "status": "confirmed",
        "placeholders": [],
    }


def test_file_contents_as_bytes_are_rejected_before_anything_is_written(
    legacy: tuple[LegacySessionManager, FakeClock],
) -> None:
    sessions, _ = legacy
    with pytest.raises(SerializationError, match="bytes"):  # tried: raw file bytes in a dict
        sessions.store_document_session("s1", {"content": b"%PDF-1.7"})
    assert sessions.get_document_session("s1") is None


def test_the_facade_wraps_an_existing_manager() -> None:
    manager = SessionManager.from_url("memory://", sweep_interval=None)
    sessions = LegacySessionManager(manager)
    sessions.store_generated_document("d1", {"filename": "out.pdf"})
    document = DocumentApp(manager).generated_documents.get("d1")
    assert document is not None
    assert document.filename == "out.pdf"
    manager.close()
