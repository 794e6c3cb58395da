"""Cookie sessions on a real Redis: store round trips per request, counted at the client;
and plain-http development (``secure="auto"``, or one warning)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from redis.asyncio import Connection, ConnectionPool, Redis

from sessionkit import AsyncMemoryStore, ConfigurationError, FakeClock
from sessionkit.clock import Clock, system_clock
from sessionkit.integrations.fastapi import ServerSessionDep, ServerSessionMiddleware
from sessionkit.stores.redis import AsyncRedisStore
from tests import servers

IDLE, ABSOLUTE, REFRESH = 600, 3600, 60


class CountingConnection(Connection):
    """A real redis-py connection that counts the requests it sends (one per round trip)."""

    sent = 0

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        type(self).sent += 1
        await super().send_packed_command(command, check_health)


def make_app(store: Any, clock: Clock, **settings: Any) -> FastAPI:
    app = FastAPI()
    app.add_middleware(
        ServerSessionMiddleware, store=store, clock=clock,
        **({"idle_timeout": IDLE, "absolute_timeout": ABSOLUTE, "refresh_interval": REFRESH}
           | settings),
    )  # fmt: skip

    @app.get("/read")
    async def read(request: Request) -> dict[str, object]:
        return dict(request.session)

    @app.post("/set/{name}/{value}")
    async def set_value(name: str, value: str, session: ServerSessionDep) -> None:
        session[name] = value

    @app.post("/drop/{name}")
    async def drop(name: str, session: ServerSessionDep) -> None:
        session.pop(name, None)

    @app.post("/login/{user}")
    async def login(user: str, session: ServerSessionDep) -> None:
        session["user"] = user
        session.rotate()

    @app.post("/logout")
    async def logout(session: ServerSessionDep) -> None:
        session.invalidate()

    return app


@pytest.fixture
async def redis_store() -> AsyncIterator[AsyncRedisStore]:
    servers.require_server("Redis", "127.0.0.1", 6379)
    pool = ConnectionPool(host="127.0.0.1", port=6379, connection_class=CountingConnection)
    client = Redis(connection_pool=pool)
    await client.ping()  # the connection handshake is not counted against any request
    store = AsyncRedisStore(client, prefix=f"test-cookies-{uuid.uuid4().hex[:12]}:")
    try:
        yield store
    finally:
        await store.purge("")
        await client.aclose()
        await pool.disconnect()


async def trips(client: httpx.AsyncClient, method: str, path: str) -> int:
    before = CountingConnection.sent
    response = await client.request(method, path)
    assert response.status_code < 400, response.text
    return CountingConnection.sent - before


async def age(store: AsyncRedisStore, seconds: float) -> None:
    """Make every session look ``seconds`` older to the expiry (Redis keeps real time)."""
    async for key in store.scan():
        await store.touch(key, IDLE - seconds)


async def test_round_trips_per_request_on_redis(redis_store: AsyncRedisStore) -> None:
    app = make_app(redis_store, system_clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        assert await trips(client, "GET", "/read") == 0  # anonymous: nothing stored, no lookup
        assert await trips(client, "POST", "/set/user/ana") == 1  # a new session: one create
        await client.get("/read")  # the scripts are loaded on this server now
        assert await trips(client, "GET", "/read") == 1
        assert await trips(client, "POST", "/set/page/2") == 2  # read + one merge
        assert await trips(client, "POST", "/drop/page") == 2
        assert (await client.get("/read")).json() == {"user": "ana"}
        await age(redis_store, REFRESH + 1)  # a touch is due: one read per interval slides it
        assert await trips(client, "GET", "/read") == 2
        assert await trips(client, "GET", "/read") == 1
        await age(redis_store, REFRESH + 1)
        assert await trips(client, "POST", "/set/page/3") == 2  # the write slides it too
        assert await trips(client, "GET", "/read") == 1  # the write slid it: no touch due
        assert await trips(client, "POST", "/login/bo") == 3  # read, delete old, create new
        assert (await client.get("/read")).json() == {"user": "bo", "page": "3"}
        assert await trips(client, "POST", "/logout") == 2
        assert await redis_store.count() == 0


async def test_reads_in_one_interval_cost_one_trip_each(redis_store: AsyncRedisStore) -> None:
    transport = httpx.ASGITransport(app=make_app(redis_store, system_clock))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        await client.post("/set/user/ana")
        await client.get("/read")
        costs = []
        for _ in range(50):  # well within one refresh interval
            costs.append(await trips(client, "GET", "/read"))
        assert costs == [1] * 50


async def test_a_starsessions_id_format_is_accepted_but_never_adopted_unknown() -> None:
    store = AsyncMemoryStore()
    transport = httpx.ASGITransport(app=make_app(store, FakeClock()))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        client.headers["cookie"] = f"session_id={uuid.uuid4().hex}"
        response = await client.get("/read")
        assert response.json() == {}
        assert "Max-Age=0" in response.headers["set-cookie"]  # unknown: the cookie is dropped
        assert await store.count() == 0


async def plain_http_cookie(secure: Any, caplog: pytest.LogCaptureFixture) -> list[str]:
    app = make_app(AsyncMemoryStore(), FakeClock(), secure=secure)
    transport = httpx.ASGITransport(app=app)
    headers = []
    with caplog.at_level(logging.WARNING, logger="sessionkit.integrations.starlette"):
        async with httpx.AsyncClient(transport=transport, base_url="http://localdev") as client:
            for name in ("a", "b"):
                client.cookies.clear()
                headers.append((await client.post(f"/set/{name}/1")).headers["set-cookie"])
    return headers


async def test_secure_auto_drops_the_flag_over_plain_http_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    headers = await plain_http_cookie("auto", caplog)
    assert all("Secure" not in header for header in headers)
    assert not caplog.records
    transport = httpx.ASGITransport(app=make_app(AsyncMemoryStore(), FakeClock(), secure="auto"))
    async with httpx.AsyncClient(transport=transport, base_url="https://example.org") as client:
        assert "Secure" in (await client.post("/set/a/1")).headers["set-cookie"]


async def test_a_secure_cookie_over_plain_http_is_warned_about_once(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    headers = await plain_http_cookie(True, caplog)
    assert all("Secure" in header for header in headers)  # still sent: secure stays secure
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "secure='auto'" in record.getMessage()
    assert capsys.readouterr() == ("", "")  # through logging only, never print


async def test_no_warning_when_secure_is_off_or_the_scheme_is_https(
    caplog: pytest.LogCaptureFixture,
) -> None:
    await plain_http_cookie(False, caplog)
    assert not caplog.records


def test_secure_takes_true_false_or_auto() -> None:
    store = AsyncMemoryStore()
    with pytest.raises(ConfigurationError, match="secure"):
        ServerSessionMiddleware(FastAPI(), store=store, secure="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="SameSite=None"):
        ServerSessionMiddleware(FastAPI(), store=store, secure="auto", same_site="none")


async def test_the_session_flow_on_every_adapter_backend(backend_store: Any) -> None:
    """Create, change, remove, concurrent changes, rotate, logout: on memory, SQLite, Redis."""
    transport = httpx.ASGITransport(app=make_app(backend_store, system_clock))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        first = (await client.post("/set/user/ana")).cookies["session_id"]
        await client.post("/set/page/2")
        await client.post("/drop/page")
        await asyncio.gather(*(client.post(f"/set/key{i}/{i}") for i in range(4)))
        expected = {"user": "ana"} | {f"key{i}": str(i) for i in range(4)}
        assert (await client.get("/read")).json() == expected
        await client.post("/login/bo")
        assert (await client.get("/read")).json() == expected | {"user": "bo"}
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as old:
            old.headers["cookie"] = f"session_id={first}"
            assert (await old.get("/read")).json() == {}  # the old id died with the rotation
        await client.post("/logout")
        assert await backend_store.count("~websession:") == 0
