"""``sessionkit demo``: a document-processing API's workflow, end to end, on a real store.

template upload -> confirm -> document upload -> generate -> extraction -> a cancellation
that is started and then withdrawn. Each run adds one workflow; on a persistent store the
sessions of earlier runs are still there (within their 24 h TTL) and are listed first.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from .._sync.protocol import SessionStore
from ..registry import open_store, redact_url

__all__ = ["DEFAULT_DEMO_URL", "run_demo"]

#: Where the demo keeps its sessions unless told otherwise.
DEFAULT_DEMO_URL = "sqlite:///./sessionkit-demo.db"

DAY = 24 * 3600
KINDS = ("templates", "documents", "extractions", "cancellations", "generated")


def run_demo(url: str = DEFAULT_DEMO_URL, echo: Callable[[str], None] = print) -> dict[str, int]:
    """Run one workflow on the store at ``url``; return the number of sessions per kind."""
    with open_store(url, default_ttl=DAY) as store:
        echo(f"sessionkit demo on {redact_url(url)}")
        earlier = {kind: store.count(f"{kind}:") for kind in KINDS}
        if any(earlier.values()):
            echo(f"found sessions from earlier runs: {_counts(earlier)}")
        else:
            echo("no sessions from earlier runs: this is the first, or the store is in memory")
        _workflow(store, echo)
        now = {kind: store.count(f"{kind}:") for kind in KINDS}
        echo(f"sessions now stored: {_counts(now)}")
        runs = store.update("demo:runs", lambda v: {"n": v["n"] + 1}, default={"n": 0})
        echo(f"demo runs recorded in this store: {runs['n']}")
        return now


def _workflow(store: SessionStore, echo: Callable[[str], None]) -> None:
    template_id = f"tpl-{uuid.uuid4().hex[:8]}"
    document_id = f"doc-{uuid.uuid4().hex[:8]}"
    generated_id = f"gen-{uuid.uuid4().hex[:8]}"
    cancellation_id = f"can-{uuid.uuid4().hex[:8]}"

    show = _shower(store, echo)
    store.set(
        f"templates:{template_id}",
        {"filename": "contrato.docx", "fields": ["nombre", "fecha", "monto"], "status": "uploaded"},
    )
    show("1. template uploaded", f"templates:{template_id}")
    store.merge(f"templates:{template_id}", {"status": "confirmed"})
    show("2. template confirmed (atomic merge)", f"templates:{template_id}")

    store.set(
        f"documents:{document_id}",
        {"template_id": template_id, "filename": "datos.pdf", "pages": 3},
    )
    show("3. document uploaded", f"documents:{document_id}")
    store.set(
        f"generated:{generated_id}",
        {"template_id": template_id, "document_id": document_id, "path": "out/contrato.pdf"},
    )
    show("4. document generated", f"generated:{generated_id}")

    store.set(
        f"extractions:{document_id}",
        {
            "fields": {"nombre": "Ana Pérez", "fecha": "2026-11-21", "monto": 1250.5},
            "confidence": 0.93,
        },
    )
    show("5. fields extracted", f"extractions:{document_id}")

    store.create(f"cancellations:{cancellation_id}", {"document_id": document_id, "step": "reason"})
    store.update(f"cancellations:{cancellation_id}", lambda v: {**v, "step": "confirm"})
    show(
        "6. cancellation started, then advanced (atomic update)", f"cancellations:{cancellation_id}"
    )
    store.delete(f"cancellations:{cancellation_id}")
    echo("7. cancellation withdrawn: its session is deleted")


def _shower(store: SessionStore, echo: Callable[[str], None]) -> Callable[[str, str], None]:
    def show(step: str, key: str) -> None:
        value: Any = store.get(key)
        echo(f"{step}: {key} = {json.dumps(value, ensure_ascii=False)}")

    return show


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in counts.items())
