"""A document-processing API with its sessions in a shared store.

template -> documents -> extraction (OCR + AI, faked here) -> edits -> generated document,
and the separate cancellation flow. Every session lives in the store the manager opened,
so any number of worker processes serve the same sessions.

Run it::

    export SESSIONKIT_URL=redis://localhost:6379/0
    uvicorn app:app --app-dir examples/fastapi_documents --workers 2

Without ``SESSIONKIT_URL`` it uses ``sqlite:///documents-sessions.db``; ``python
examples/fastapi_documents/app.py`` serves one worker on http://127.0.0.1:8000.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import attrs
from fastapi import APIRouter, FastAPI, HTTPException
from pydantic import BaseModel

from sessionkit import SessionNotFound
from sessionkit.integrations.fastapi import (
    ManagerDep,
    sessionkit_lifespan,
)
from sessionkit.presets import (
    CancellationSession,
    DocumentSession,
    ExtractionResult,
    GeneratedDocument,
    TemplateSession,
)
from sessionkit.presets.fastapi import (
    CancellationsDep,
    DocumentsDep,
    ExtractionsDep,
    GeneratedDocumentsDep,
    TemplatesDep,
)

DEFAULT_URL = "sqlite:///documents-sessions.db"


class TemplateUpload(BaseModel):
    filename: str
    placeholders: list[str]


class DocumentUpload(BaseModel):
    template_id: str
    files: list[dict[str, str]]  # {"name": ..., "category": ...}


class Edits(BaseModel):
    fields: dict[str, Any]


class CancellationUpload(BaseModel):
    files: list[dict[str, str]]


def not_found(kind: str, session_id: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"{kind} {session_id} not found or expired")


def fake_ocr(files: list[dict[str, Any]]) -> dict[str, Any]:
    """Stands in for OCR + AI extraction: one field per uploaded file."""
    return {file["category"]: f"text of {file['name']}" for file in files}


router = APIRouter()


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok", "pid": str(os.getpid())}


# -- templates ---------------------------------------------------------------------


@router.post("/templates", status_code=201)
async def upload_template(upload: TemplateUpload, templates: TemplatesDep) -> dict[str, str]:
    template_id = uuid.uuid4().hex
    await templates.put(
        template_id,
        TemplateSession(filename=upload.filename, placeholders=upload.placeholders),
    )
    return {"template_id": template_id}


@router.post("/templates/{template_id}/confirm")
async def confirm_template(template_id: str, templates: TemplatesDep) -> dict[str, Any]:
    try:
        template = await templates.merge(template_id, status="confirmed")
    except SessionNotFound:
        raise not_found("template", template_id) from None
    return attrs.asdict(template)


@router.get("/templates/{template_id}")
async def read_template(template_id: str, templates: TemplatesDep) -> dict[str, Any]:
    template = await templates.get(template_id)
    if template is None:
        raise not_found("template", template_id)
    return attrs.asdict(template)


# -- documents and extraction ------------------------------------------------------


@router.post("/documents", status_code=201)
async def upload_documents(
    upload: DocumentUpload, templates: TemplatesDep, documents: DocumentsDep
) -> dict[str, str]:
    template = await templates.get(upload.template_id)
    if template is None or template.status != "confirmed":
        raise HTTPException(status_code=409, detail="confirm the template first")
    session_id = uuid.uuid4().hex
    await documents.put(
        session_id,
        DocumentSession(
            categorized_files=[dict(file) for file in upload.files],
            data={"template_id": upload.template_id},
        ),
    )
    return {"session_id": session_id}


@router.get("/documents/{session_id}")
async def read_documents(session_id: str, documents: DocumentsDep) -> dict[str, Any]:
    session = await documents.get(session_id)
    if session is None:
        raise not_found("document session", session_id)
    return attrs.asdict(session)


@router.post("/documents/{session_id}/extraction")
async def extract(
    session_id: str, documents: DocumentsDep, extractions: ExtractionsDep
) -> dict[str, Any]:
    session = await documents.get(session_id)
    if session is None:
        raise not_found("document session", session_id)
    extracted = fake_ocr(session.categorized_files)

    # An atomic read-modify-write, never a `put`: edits another request made a moment
    # ago (PATCH /extractions/...) stay; only the extracted fields are replaced.
    def refresh(current: ExtractionResult) -> ExtractionResult:
        return attrs.evolve(current, ocr_data=extracted, ai_extracted_data=dict(extracted))

    result = await extractions.update(session_id, refresh, default=ExtractionResult())
    await documents.merge(session_id, status="extracted")
    return attrs.asdict(result)


@router.patch("/extractions/{session_id}")
async def edit_extraction(
    session_id: str, edits: Edits, extractions: ExtractionsDep
) -> dict[str, Any]:
    # One atomic read-modify-write: edits sent at the same time to two workers both stay.
    def apply(result: ExtractionResult) -> ExtractionResult:
        return attrs.evolve(result, edited_data={**(result.edited_data or {}), **edits.fields})

    try:
        return attrs.asdict(await extractions.update(session_id, apply))
    except SessionNotFound:
        raise not_found("extraction", session_id) from None


@router.get("/extractions/{session_id}")
async def read_extraction(session_id: str, extractions: ExtractionsDep) -> dict[str, Any]:
    result = await extractions.get(session_id)
    if result is None:
        raise not_found("extraction", session_id)
    return attrs.asdict(result)


@router.post("/documents/{session_id}/generate", status_code=201)
async def generate(
    session_id: str,
    documents: DocumentsDep,
    extractions: ExtractionsDep,
    generated: GeneratedDocumentsDep,
) -> dict[str, Any]:
    session, result = await documents.get(session_id), await extractions.get(session_id)
    if session is None or result is None:
        raise HTTPException(status_code=409, detail="upload and extract documents first")
    fields = {**(result.ai_extracted_data or {}), **(result.edited_data or {})}
    document_id = uuid.uuid4().hex
    document = GeneratedDocument(
        filename=f"{document_id}.docx",
        template_id=str(session.data["template_id"]),
        url=f"/downloads/{document_id}.docx",
        data={"fields": fields},
    )
    await generated.put(document_id, document)
    return {"document_id": document_id, **attrs.asdict(document)}


@router.delete("/documents/{session_id}", status_code=204)
async def delete_documents(
    session_id: str, documents: DocumentsDep, extractions: ExtractionsDep
) -> None:
    if not await documents.delete(session_id):
        raise not_found("document session", session_id)
    await extractions.delete(session_id)


# -- cancellations -----------------------------------------------------------------


@router.post("/cancellations", status_code=201)
async def upload_cancellation(
    upload: CancellationUpload, cancellations: CancellationsDep
) -> dict[str, str]:
    session_id = uuid.uuid4().hex
    await cancellations.put(session_id, CancellationSession(files=list(upload.files)))
    return {"session_id": session_id}


@router.post("/cancellations/{session_id}/validate")
async def validate_cancellation(session_id: str, cancellations: CancellationsDep) -> dict[str, Any]:
    session = await cancellations.get(session_id)
    if session is None:
        raise not_found("cancellation", session_id)
    missing = [] if session.files else ["at least one file"]
    status = "valid" if not missing else "invalid"
    updated = await cancellations.merge(session_id, status=status, validation={"missing": missing})
    return attrs.asdict(updated)


# -- monitoring --------------------------------------------------------------------


@router.get("/stats")
async def stats(manager: ManagerDep) -> dict[str, int]:
    return (await manager.stats()).by_namespace()


def create_app(url: str | None = None, **options: Any) -> FastAPI:
    """The app; ``url`` wins over ``SESSIONKIT_URL``, which wins over the SQLite default.

    ``options`` go to the store (``default_ttl``, ``prefix``...), as ``SESSIONKIT_*``
    variables do when the URL comes from the environment.
    """
    if url is None and "SESSIONKIT_URL" not in os.environ:
        url = DEFAULT_URL
    app = FastAPI(title="documents", lifespan=sessionkit_lifespan(url=url, **options))
    app.include_router(router)
    return app


app = create_app()

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)
