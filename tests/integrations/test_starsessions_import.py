"""The starsessions importer on real data: sessions written by starsessions' own middleware and
RedisStore on the local Redis, read back through our middleware with the browsers' cookies."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sessionkit import AsyncMemoryStore, ConfigurationError
from sessionkit.integrations.starlette import ServerSessionMiddleware
from sessionkit.integrations.starsessions_import import StarsessionsImport, import_starsessions
from tests import servers

starsessions = pytest.importorskip("starsessions")
from starsessions.stores.redis import RedisStore  # noqa: E402


async def read(request: Request) -> JSONResponse:
    return JSONResponse(dict(request.session))


async def write(request: Request) -> JSONResponse:
    for name, value in request.query_params.items():
        request.session[name] = value
    request.session.setdefault("cart", []).append({"sku": 101, "qty": 2})
    return JSONResponse(dict(request.session))


ROUTES = [Route("/read", read), Route("/write", write, methods=["POST"])]


def starsessions_app(redis: Redis, prefix: str) -> Starlette:
    app = Starlette(routes=ROUTES)
    app.add_middleware(starsessions.SessionAutoloadMiddleware)
    app.add_middleware(
        starsessions.SessionMiddleware,
        store=RedisStore(connection=redis, prefix=prefix),
        lifetime=3600,
    )
    return app


def sessionkit_app(store: AsyncMemoryStore, **settings: Any) -> Starlette:
    app = Starlette(routes=ROUTES)
    app.add_middleware(ServerSessionMiddleware, store=store, cookie_name="session", **settings)
    return app


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    servers.require_server("Redis", "127.0.0.1", 6379)
    client = Redis(host="127.0.0.1", port=6379)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def prefix(redis: Redis) -> AsyncIterator[str]:
    prefix = f"test-starsessions-{uuid.uuid4().hex[:12]}."
    yield prefix
    names = [name async for name in redis.scan_iter(match=prefix + "*")]
    if names:
        await redis.delete(*names)


async def starsessions_users(redis: Redis, prefix: str, count: int) -> dict[str, dict[str, Any]]:
    """``count`` browsers log in through starsessions; their cookie and what they see."""
    users: dict[str, dict[str, Any]] = {}
    transport = httpx.ASGITransport(app=starsessions_app(redis, prefix))
    for number in range(count):
        async with httpx.AsyncClient(transport=transport, base_url="https://app") as client:
            await client.post("/write", params={"user": f"user{number}"})
            seen = (await client.post("/write", params={"page": str(number)})).json()
            cookie = client.cookies["session"]
            users[cookie] = seen
    return users


async def test_imported_sessions_keep_their_cookies(redis: Redis, prefix: str) -> None:
    users = await starsessions_users(redis, prefix, 5)
    await redis.set(prefix + "not-a-session-id", b"{}")  # someone else's key: skipped
    await redis.set(prefix + uuid.uuid4().hex, b"not json")
    store = AsyncMemoryStore()

    dry = await import_starsessions(redis, store, source_prefix=prefix)
    assert dry == StarsessionsImport(found=7, imported=5, skipped=2, dry_run=True)
    assert await store.count() == 0  # a dry run writes nothing

    done = await import_starsessions(redis, store, source_prefix=prefix, apply=True)
    assert done == StarsessionsImport(found=7, imported=5, skipped=2, dry_run=False)
    assert await store.count() == 5

    transport = httpx.ASGITransport(app=sessionkit_app(store))
    async with httpx.AsyncClient(transport=transport, base_url="https://app") as client:
        for cookie, seen in users.items():
            client.cookies.clear()
            client.headers["cookie"] = f"session={cookie}"
            assert (await client.get("/read")).json() == seen
        # a user keeps working on the imported session, under the same cookie
        cookie = next(iter(users))
        client.headers["cookie"] = f"session={cookie}"
        after = (await client.post("/write", params={"page": "next"})).json()
        assert after["page"] == "next"
        assert len(after["cart"]) == 3

    again = await import_starsessions(redis, store, source_prefix=prefix, apply=True)
    assert again == StarsessionsImport(found=7, already_present=5, skipped=2, dry_run=False)
    async with httpx.AsyncClient(transport=transport, base_url="https://app") as client:
        client.headers["cookie"] = f"session={cookie}"
        assert (await client.get("/read")).json()["page"] == "next"  # not overwritten
    assert len([name async for name in redis.scan_iter(match=prefix + "*")]) == 7  # untouched


async def test_absolute_timeout_and_ttl(redis: Redis, prefix: str) -> None:
    users = await starsessions_users(redis, prefix, 2)
    store = AsyncMemoryStore()
    old = await import_starsessions(
        redis, store, source_prefix=prefix, absolute_timeout=0.001, apply=True
    )
    assert old == StarsessionsImport(found=2, expired=2, dry_run=False)
    assert await store.count() == 0

    done = await import_starsessions(
        redis, store, source_prefix=prefix, idle_timeout=600, apply=True, batch_size=1
    )
    assert done.imported == 2
    async for key in store.scan():
        remaining = await store.ttl(key)
        assert remaining is not None
        assert 590 < remaining <= 600  # capped at the idle timeout (starsessions had 3600 s)

    fresh = AsyncMemoryStore()
    await import_starsessions(
        redis, fresh, source_prefix=prefix, absolute_timeout=0.001,
        restart_absolute_timeout=True, apply=True,
    )  # fmt: skip
    assert await fresh.count() == 2
    assert len(users) == 2


async def test_bad_batch_size_is_refused_before_any_read(redis: Redis) -> None:
    with pytest.raises(ConfigurationError, match="batch_size"):
        await import_starsessions(redis, AsyncMemoryStore(), batch_size=0)
