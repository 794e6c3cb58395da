"""The FastAPI integration: lifespan, dependencies, and the documents example end to end."""

from __future__ import annotations

import asyncio
import inspect
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import attrs
import httpx
import pytest
from fastapi import Depends, FastAPI

from sessionkit import (
    AsyncNamespace,
    AsyncSessionManager,
    ConfigurationError,
    open_store,
)
from sessionkit.integrations.fastapi import (
    ManagerDep,
    get_manager,
    get_server_session,
    namespace_dependency,
    open_manager,
    sessionkit_lifespan,
)
from sessionkit.presets.fastapi import (
    TemplatesDep,
    get_admin_sessions,
    get_cancellations,
    get_conversations,
    get_documents,
    get_extractions,
    get_generated_documents,
    get_templates,
)
from tests.integrations.conftest import ADAPTER_BACKENDS, backend_spec
from tests.integrations.examples import EXAMPLES, load_example

example = load_example("fastapi_documents/app.py")


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan around an in-process client (what a server does at start/stop)."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def document_flow(first: httpx.AsyncClient, second: httpx.AsyncClient) -> None:
    """The document workflow; every session made through ``first`` is used through ``second``."""
    template = await first.post("/templates", json={"filename": "lease.docx", "placeholders": []})
    assert template.status_code == 201, template.text
    template_id = template.json()["template_id"]
    confirmed = await second.post(f"/templates/{template_id}/confirm")
    assert confirmed.json()["status"] == "confirmed"
    assert (await first.get(f"/templates/{template_id}")).json()["status"] == "confirmed"

    files = [{"name": "id.pdf", "category": "identity"}, {"name": "deed.pdf", "category": "deed"}]
    upload = await first.post("/documents", json={"template_id": template_id, "files": files})
    assert upload.status_code == 201, upload.text
    session_id = upload.json()["session_id"]
    assert (await second.get(f"/documents/{session_id}")).json()["categorized_files"] == files

    extraction = (await second.post(f"/documents/{session_id}/extraction")).json()
    assert extraction["ocr_data"] == {"identity": "text of id.pdf", "deed": "text of deed.pdf"}
    assert (await first.get(f"/documents/{session_id}")).json()["status"] == "extracted"
    await first.patch(f"/extractions/{session_id}", json={"fields": {"identity": "Ana"}})
    edited = await second.patch(f"/extractions/{session_id}", json={"fields": {"deed": "No 7"}})
    assert edited.json()["edited_data"] == {"identity": "Ana", "deed": "No 7"}

    generated = await first.post(f"/documents/{session_id}/generate")
    assert generated.status_code == 201, generated.text
    assert generated.json()["data"]["fields"] == {"identity": "Ana", "deed": "No 7"}

    cancellation = await second.post("/cancellations", json={"files": [{"name": "c.pdf"}]})
    cancellation_id = cancellation.json()["session_id"]
    validated = await first.post(f"/cancellations/{cancellation_id}/validate")
    assert validated.json()["status"] == "valid"

    stats = (await second.get("/stats")).json()
    assert stats["templates"] == stats["documents"] == stats["extractions"] == 1

    assert (await second.delete(f"/documents/{session_id}")).status_code == 204
    assert (await first.get(f"/documents/{session_id}")).status_code == 404
    assert (await first.get(f"/extractions/{session_id}")).status_code == 404
    assert (await first.delete(f"/documents/{session_id}")).status_code == 404


def store_for(name: str, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    spec = backend_spec(name)
    return spec.url(tmp_path), spec.options(uuid.uuid4().hex[:12])


def purge(url: str, options: dict[str, Any]) -> None:
    if url != "memory://":
        with open_store(url, **options) as store:
            store.purge("")


@pytest.fixture(params=ADAPTER_BACKENDS)
def backend_url(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, dict[str, Any]]]:
    url, options = store_for(request.param, tmp_path)
    yield url, options
    purge(url, options)


async def test_documents_flow_in_process(backend_url: tuple[str, dict[str, Any]]) -> None:
    url, options = backend_url
    async with serve(example.create_app(url, **options)) as client:
        await document_flow(client, client)
        assert (await client.get("/templates/unknown")).status_code == 404
        missing = {"template_id": "unknown", "files": []}
        assert (await client.post("/documents", json=missing)).status_code == 409


async def test_extraction_keeps_every_concurrent_edit(
    backend_url: tuple[str, dict[str, Any]],
) -> None:
    """Extractions re-run while 200 edits arrive: no edit is lost (the endpoint merges)."""
    url, options = backend_url
    async with serve(example.create_app(url, **options)) as client:
        template = await client.post("/templates", json={"filename": "a.docx", "placeholders": []})
        template_id = template.json()["template_id"]
        await client.post(f"/templates/{template_id}/confirm")
        files = [{"name": "id.pdf", "category": "identity"}]
        upload = await client.post("/documents", json={"template_id": template_id, "files": files})
        session_id = upload.json()["session_id"]
        assert (await client.post(f"/documents/{session_id}/extraction")).status_code == 200

        in_flight = asyncio.Semaphore(8)  # within every store's default connection pool

        async def edit(i: int) -> None:
            async with in_flight:
                sent = await client.patch(
                    f"/extractions/{session_id}", json={"fields": {f"field{i}": str(i)}}
                )
            assert sent.status_code == 200, sent.text

        async def extract() -> None:
            async with in_flight:
                sent = await client.post(f"/documents/{session_id}/extraction")
            assert sent.status_code == 200, sent.text

        work = [edit(i) for i in range(200)] + [extract() for _ in range(20)]
        await asyncio.gather(*work)
        kept = (await client.get(f"/extractions/{session_id}")).json()["edited_data"]
        assert kept == {f"field{i}": str(i) for i in range(200)}


async def test_lifespan_puts_the_manager_on_app_state_and_runs_the_sweeper() -> None:
    seen: list[AsyncSessionManager] = []

    @asynccontextmanager
    async def own_lifespan(app: FastAPI) -> AsyncIterator[None]:
        seen.append(app.state.sessionkit)  # there before the app's own startup code runs
        yield

    app = FastAPI(
        lifespan=sessionkit_lifespan(url="memory://", sweep_interval=5, then=own_lifespan)
    )

    @app.get("/running")
    async def running(manager: ManagerDep) -> dict[str, bool]:
        assert manager.sweeper is not None
        return {"running": manager.sweeper.running}

    async with serve(app) as client:
        assert (await client.get("/running")).json() == {"running": True}
    [manager] = seen
    assert manager.sweeper is not None
    assert not manager.sweeper.running
    assert not hasattr(app.state, "sessionkit")


async def test_lifespan_reads_the_environment() -> None:
    app = FastAPI(lifespan=sessionkit_lifespan(environ={"SESSIONKIT_URL": "memory://"}))

    @app.get("/store")
    async def store(manager: ManagerDep) -> dict[str, str]:
        return {"store": type(manager.store).__name__}

    async with serve(app) as client:
        assert (await client.get("/store")).json() == {"store": "AsyncMemoryStore"}

    with pytest.raises(ConfigurationError, match="SESSIONKIT_URL"):
        async with serve(FastAPI(lifespan=sessionkit_lifespan(environ={}))):
            pass


async def test_without_the_lifespan_the_dependency_says_what_to_do() -> None:
    app = FastAPI()

    @app.get("/")
    async def endpoint(manager: Annotated[AsyncSessionManager, Depends(get_manager)]) -> None:
        pass

    async with serve(app) as client:
        with pytest.raises(ConfigurationError, match="sessionkit_lifespan"):
            await client.get("/")


@attrs.define
class Draft:
    title: str
    words: int = 0


Drafts = Annotated[AsyncNamespace[Draft], Depends(namespace_dependency("drafts", Draft))]


async def test_typed_namespace_dependencies() -> None:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_manager(app, manager=AsyncSessionManager.from_url("memory://")):
            yield

    app = FastAPI(lifespan=lifespan)

    @app.put("/drafts/{draft_id}")
    async def put_draft(draft_id: str, drafts: Drafts, templates: TemplatesDep) -> dict[str, int]:
        await drafts.put(draft_id, Draft(title=draft_id))
        updated = await drafts.merge(draft_id, words=12)
        return {"words": updated.words, "templates": await templates.count()}

    async with serve(app) as client:
        assert (await client.put("/drafts/d%201")).json() == {"words": 12, "templates": 0}


@pytest.mark.parametrize(
    "dependency",
    [
        get_manager,
        get_templates,
        get_documents,
        get_extractions,
        get_cancellations,
        get_generated_documents,
        get_admin_sessions,
        get_conversations,
        get_server_session,
        namespace_dependency("drafts", Draft),
    ],
)
def test_dependencies_are_async_so_fastapi_runs_them_on_the_loop(
    dependency: Callable[..., object],
) -> None:
    # FastAPI sends a plain def dependency to its threadpool; an async def one is awaited
    # on the event loop, with no thread hop.
    assert inspect.iscoroutinefunction(dependency)


# -- two worker processes sharing one store ---------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@attrs.frozen
class Worker:
    process: subprocess.Popen[bytes]
    #: The worker's stderr: a file, not a pipe, so a chatty worker never blocks on a full
    #: pipe nobody reads while the test runs.
    log: Path

    def tail(self, limit: int = 4000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text[-limit:]


def start_worker(port: int, env: dict[str, str], log: Path) -> Worker:
    with log.open("wb") as stderr:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", "app:app",
                "--app-dir", str(EXAMPLES / "fastapi_documents"),
                "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )  # fmt: skip
    return Worker(process, log)


async def wait_until_serving(worker: Worker, base_url: str) -> str:
    """The worker's pid once it answers; bounded by 30 s."""
    async with httpx.AsyncClient(base_url=base_url, timeout=1) as client:
        for _ in range(300):
            if worker.process.poll() is not None:
                pytest.fail(f"worker exited with {worker.process.returncode}: {worker.tail()}")
            try:
                return str((await client.get("/health")).json()["pid"])
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    pytest.fail(f"worker at {base_url} did not start serving in time: {worker.tail()}")


def stop(worker: Worker) -> None:
    process = worker.process
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.mark.parametrize("backend", ["sqlite", "redis", "postgresql"])
async def test_documents_flow_across_two_uvicorn_workers(backend: str, tmp_path: Path) -> None:
    url, options = store_for(backend, tmp_path)
    env = {key: value for key, value in os.environ.items() if not key.startswith("SESSIONKIT_")}
    env["SESSIONKIT_URL"] = url
    env.update({f"SESSIONKIT_{name.upper()}": str(value) for name, value in options.items()})
    ports = [free_port(), free_port()]
    workers = [start_worker(port, env, tmp_path / f"worker-{port}.log") for port in ports]
    try:
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        pids = {
            await wait_until_serving(worker, url) for worker, url in zip(workers, urls, strict=True)
        }
        assert len(pids) == 2  # two processes: nothing is shared but the store
        async with (
            httpx.AsyncClient(base_url=urls[0], timeout=10) as first,
            httpx.AsyncClient(base_url=urls[1], timeout=10) as second,
        ):
            await document_flow(first, second)
    except BaseException:
        for worker in workers:  # pytest shows captured output with the failure
            print(f"--- stderr of worker {worker.log.stem} ---\n{worker.tail()}")
        raise
    finally:
        for worker in workers:
            stop(worker)
        purge(url, options)
