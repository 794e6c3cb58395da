"""Server-side cookie sessions: fixation, rotation, tampered and expired ids, no idle writes."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import httpx
import pytest
from fastapi import FastAPI, Request, WebSocket
from starlette.types import Message

from sessionkit import (
    AsyncMemoryStore,
    AsyncSessionManager,
    AsyncSessionStore,
    ConfigurationError,
    FakeClock,
)
from sessionkit.integrations.fastapi import (
    ServerSession,
    ServerSessionDep,
    ServerSessionMiddleware,
)
from tests.integrations.store_doubles import CountingStore

COOKIE = "session_id"
IDLE, ABSOLUTE, REFRESH = 600, 3600, 60


@attrs.define
class Gate:
    """Holds the ``/slow/...`` endpoints between their start and their end."""

    entered: asyncio.Event = attrs.Factory(asyncio.Event)
    release: asyncio.Event = attrs.Factory(asyncio.Event)

    async def hold(self) -> None:
        self.entered.set()
        await self.release.wait()


def make_app(store: AsyncSessionStore, clock: FakeClock, **settings: Any) -> FastAPI:
    app = FastAPI()
    app.add_middleware(
        ServerSessionMiddleware,
        store=store,
        clock=clock,
        **({"idle_timeout": IDLE, "absolute_timeout": ABSOLUTE, "refresh_interval": REFRESH}
           | settings),
    )  # fmt: skip
    gate = app.state.gate = Gate()

    @app.get("/read")
    async def read(request: Request) -> dict[str, object]:
        return dict(request.session)

    @app.post("/cart/{item}")
    async def add(item: str, session: ServerSessionDep) -> dict[str, object]:
        session.setdefault("cart", []).append(item)  # a nested change is seen too
        return dict(session)

    @app.post("/set/{name}/{value}")
    async def set_value(name: str, value: str, session: ServerSessionDep) -> None:
        session[name] = value

    @app.post("/drop/{name}")
    async def drop(name: str, session: ServerSessionDep) -> None:
        del session[name]

    @app.post("/login/{user}")
    async def login(user: str, session: ServerSessionDep) -> None:
        session["user"] = user
        session.rotate()

    @app.post("/logout")
    async def logout(session: ServerSessionDep, notice: str | None = None) -> None:
        session.invalidate()
        if notice:
            session["notice"] = notice

    @app.post("/slow/set/{name}/{value}")
    async def slow_set(name: str, value: str, session: ServerSessionDep) -> None:
        await gate.hold()
        session[name] = value

    @app.post("/slow/login/{user}")
    async def slow_login(user: str, session: ServerSessionDep) -> None:
        await gate.hold()
        session["user"] = user
        session.rotate()

    @app.websocket("/ws")
    async def websocket(websocket: WebSocket) -> None:
        await websocket.accept()
        session = websocket.session
        assert isinstance(session, ServerSession)
        await websocket.send_json(dict(session))
        session["from_websocket"] = "yes"  # not saved: read-only
        try:
            session.rotate()
        except RuntimeError as error:
            await websocket.send_json({"rotate": str(error)})
        await websocket.close()

    return app


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> CountingStore:
    return CountingStore(clock=clock)


@pytest.fixture
def app(store: CountingStore, clock: FakeClock) -> FastAPI:
    return make_app(store, clock)


@asynccontextmanager
async def client_of(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        yield client


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(app) as client:
        yield client


def session_cookie(response: httpx.Response) -> str | None:
    return response.cookies.get(COOKIE)


def send_only(client: httpx.AsyncClient, session_id: str) -> None:
    """From now on ``client`` sends ``session_id`` (and no cookie the server gave it)."""
    client.cookies.clear()
    client.headers["cookie"] = f"{COOKIE}={session_id}"


async def test_anonymous_reads_store_nothing_and_set_no_cookie(
    client: httpx.AsyncClient, store: AsyncMemoryStore
) -> None:
    response = await client.get("/read")
    assert response.json() == {}
    assert "set-cookie" not in response.headers
    assert await store.count() == 0


async def test_cookie_flags_and_id_strength(client: httpx.AsyncClient) -> None:
    response = await client.post("/cart/apple")
    header = response.headers["set-cookie"]
    assert "HttpOnly" in header
    assert "Secure" in header
    assert "SameSite=Lax" in header
    session_id = session_cookie(response)
    assert session_id is not None
    assert len(session_id) == 43  # 32 random bytes, base64url: 256 bits
    assert (await client.get("/read")).json() == {"cart": ["apple"]}


async def test_ids_are_stored_hashed(client: httpx.AsyncClient, store: AsyncMemoryStore) -> None:
    session_id = session_cookie(await client.post("/cart/apple"))
    assert session_id is not None
    keys = [key async for key in store.scan()]
    assert len(keys) == 1
    assert session_id not in keys[0]


async def test_fixation_unknown_client_id_is_never_adopted(
    client: httpx.AsyncClient, store: AsyncMemoryStore
) -> None:
    planted = "A" * 43  # well-formed, but never issued by the server
    send_only(client, planted)
    response = await client.post("/set/user/ana")
    issued = session_cookie(response)
    assert issued is not None
    assert issued != planted
    send_only(client, planted)
    assert (await client.get("/read")).json() == {}  # the planted id holds nothing
    assert await store.count() == 1


@pytest.mark.parametrize("flip", [0, 20, 42])
async def test_tampered_id_is_refused_and_its_cookie_expired(
    client: httpx.AsyncClient, flip: int
) -> None:
    session_id = session_cookie(await client.post("/set/user/ana"))
    assert session_id is not None
    replacement = "B" if session_id[flip] != "B" else "C"
    tampered = session_id[:flip] + replacement + session_id[flip + 1 :]
    send_only(client, tampered)
    response = await client.get("/read")
    assert response.json() == {}
    assert "Max-Age=0" in response.headers["set-cookie"]


@pytest.mark.parametrize("garbage", ["", "short", "x" * 43 + "y", "../../etc", "ñ" * 43])
async def test_malformed_ids_are_refused_without_a_store_lookup(
    client: httpx.AsyncClient, store: CountingStore, garbage: str
) -> None:
    send_only(client, garbage)
    response = await client.get("/read")
    assert response.status_code == 200
    assert response.json() == {}
    assert store.lookups() == 0


async def test_a_well_formed_unknown_id_costs_one_lookup(
    client: httpx.AsyncClient, store: CountingStore
) -> None:
    # The counterpart of the test above: the counting store does see the middleware's reads.
    send_only(client, "A" * 43)
    assert (await client.get("/read")).json() == {}
    assert store.lookups() == 1


async def test_rotation_on_login_kills_the_old_id_at_once(client: httpx.AsyncClient) -> None:
    before = session_cookie(await client.post("/cart/apple"))
    response = await client.post("/login/ana")
    after = session_cookie(response)
    assert before is not None
    assert after is not None
    assert after != before
    assert (await client.get("/read")).json() == {"cart": ["apple"], "user": "ana"}

    send_only(client, before)  # whoever kept the old id (an attacker who planted it)
    assert (await client.get("/read")).json() == {}


async def test_logout_deletes_the_session(
    client: httpx.AsyncClient, store: AsyncMemoryStore
) -> None:
    await client.post("/login/ana")
    response = await client.post("/logout")
    assert "Max-Age=0" in response.headers["set-cookie"]
    assert await store.count() == 0


async def test_data_written_after_logout_starts_a_new_session(
    client: httpx.AsyncClient, store: AsyncMemoryStore
) -> None:
    before = session_cookie(await client.post("/login/ana"))
    after = session_cookie(await client.post("/logout", params={"notice": "bye"}))
    assert after not in (None, before)
    assert (await client.get("/read")).json() == {"notice": "bye"}
    assert await store.count() == 1


async def test_read_only_requests_write_nothing_back(
    client: httpx.AsyncClient, store: AsyncMemoryStore, clock: FakeClock
) -> None:
    await client.post("/cart/apple")
    [key] = [key async for key in store.scan()]
    entry = await store.get_entry(key)
    assert entry is not None
    for _ in range(3):
        await client.get("/read")
        clock.advance(10)  # 30 s in all: under refresh_interval, so not even a touch
    after = await store.get_entry(key)
    assert after == entry


async def test_reads_slide_the_idle_timeout(
    client: httpx.AsyncClient, store: AsyncMemoryStore, clock: FakeClock
) -> None:
    await client.post("/cart/apple")
    for _ in range(5):  # 5 x 500 s = 2500 s, over the 600 s idle timeout, under absolute
        clock.advance(500)
        assert (await client.get("/read")).json() == {"cart": ["apple"]}
    [key] = [key async for key in store.scan()]
    entry = await store.get_entry(key)
    assert entry is not None
    assert entry.value[".cart"] == [["apple"]]


async def test_idle_timeout_expires_the_session(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await client.post("/cart/apple")
    clock.advance(IDLE + 1)
    assert (await client.get("/read")).json() == {}
    response = await client.post("/cart/pear")
    assert response.json() == {"cart": ["pear"]}  # a new, empty session


async def test_absolute_timeout_is_never_extended(
    client: httpx.AsyncClient, store: AsyncMemoryStore, clock: FakeClock
) -> None:
    first = session_cookie(await client.post("/cart/apple"))
    for _ in range(ABSOLUTE // 500):  # active every 500 s: the idle timeout never hits
        clock.advance(500)
        await client.post("/set/seen/yes")
    clock.advance(ABSOLUTE % 500 + 1)
    assert (await client.get("/read")).json() == {}
    response = await client.post("/cart/pear")
    assert session_cookie(response) not in (None, first)
    assert await store.count() == 1


async def test_concurrent_requests_keep_each_others_changes(
    client: httpx.AsyncClient,
) -> None:
    await client.post("/set/start/1")
    await asyncio.gather(*(client.post(f"/set/key{i}/{i}") for i in range(8)))
    assert (await client.get("/read")).json() == {"start": "1"} | {
        f"key{i}": str(i) for i in range(8)
    }


async def test_a_removed_key_stays_removed_and_none_is_a_value(
    client: httpx.AsyncClient, store: CountingStore
) -> None:
    await client.post("/set/user/ana")
    await client.post("/set/page/2")
    await client.post("/drop/page")
    assert (await client.get("/read")).json() == {"user": "ana"}
    [key] = [key async for key in store.scan()]
    await store.merge(key, {".nothing": [None]})  # a stored None is not a removed key
    assert (await client.get("/read")).json() == {"user": "ana", "nothing": None}


async def test_concurrent_removal_and_change_of_other_keys_both_hold(
    client: httpx.AsyncClient,
) -> None:
    await client.post("/set/a/1")
    await client.post("/set/b/2")
    await asyncio.gather(client.post("/drop/a"), client.post("/set/c/3"))
    assert (await client.get("/read")).json() == {"b": "2", "c": "3"}


async def test_an_entry_without_its_creation_time_is_never_adopted(
    client: httpx.AsyncClient, store: CountingStore
) -> None:
    # What a late write leaves on a session a concurrent logout deleted, for an instant.
    session_id = "C" * 43
    key = "~websession:" + hashlib.sha256(session_id.encode()).hexdigest()
    await store.set(key, {".user": ["mallory"]})
    send_only(client, session_id)
    response = await client.get("/read")
    assert response.json() == {}
    assert "Max-Age=0" in response.headers["set-cookie"]


async def test_non_json_values_are_refused(store: AsyncMemoryStore, clock: FakeClock) -> None:
    app = FastAPI()
    app.add_middleware(ServerSessionMiddleware, store=store, clock=clock)

    @app.post("/bad")
    async def bad(session: ServerSessionDep) -> None:
        session[1] = "int keys do not survive JSON"  # type: ignore[index]

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        assert (await client.post("/bad")).status_code == 500
    assert await store.count() == 0


async def test_an_active_user_is_never_logged_out_by_read_only_requests(
    store: CountingStore, clock: FakeClock
) -> None:
    refresh = IDLE // 2  # the longest refresh_interval allowed
    app = make_app(store, clock, absolute_timeout=100 * IDLE, refresh_interval=refresh)
    async with client_of(app) as client:
        await client.post("/login/ana")
        # Requests just under the idle timeout apart, and the worst case of the refresh
        # interval: one request just before a touch would be due (so no touch), then the
        # next as late as idle_timeout - refresh_interval allows.
        gaps = [IDLE - 1] * 10 + [refresh - 1, IDLE - refresh] * 10
        for gap in gaps:
            clock.advance(gap)
            assert (await client.get("/read")).json() == {"user": "ana"}, gap
        assert store.calls["touch"] < len(gaps)  # and still not a write per request
        clock.advance(IDLE)
        assert (await client.get("/read")).json() == {}  # silence for idle_timeout: gone


async def test_no_touches_once_the_expiry_is_capped_by_the_absolute_timeout(
    client: httpx.AsyncClient, store: CountingStore, clock: FakeClock
) -> None:
    await client.post("/set/user/ana")
    for _ in range(7):  # 3150 s: reads every 450 s, each sliding the expiry
        clock.advance(450)
        await client.get("/read")
    assert store.calls["touch"] == 7  # the last one moved the expiry to the absolute end
    for _ in range(44):  # reads every 10 s up to 3590 s: nothing more to gain
        clock.advance(10)
        assert (await client.get("/read")).json() == {"user": "ana"}
    assert store.calls["touch"] == 7
    clock.advance(10)
    assert (await client.get("/read")).json() == {}  # the absolute timeout, to the second


async def test_max_age_cookie_is_sent_again_when_the_session_is_renewed(
    store: CountingStore, clock: FakeClock
) -> None:
    async with client_of(make_app(store, clock, max_age=1800)) as client:
        created = await client.post("/set/user/ana")
        assert "Max-Age=1800" in created.headers["set-cookie"]
        session_id = session_cookie(created)

        clock.advance(REFRESH - 1)
        quiet = await client.get("/read")  # no touch: nothing renewed, nothing to send
        assert "set-cookie" not in quiet.headers

        clock.advance(1)
        touched = await client.get("/read")  # the store entry was slid: so is the cookie
        assert session_cookie(touched) == session_id
        assert "Max-Age=1800" in touched.headers["set-cookie"]

        clock.advance(10)
        written = await client.post("/set/page/2")
        assert session_cookie(written) == session_id
        assert "Max-Age=1800" in written.headers["set-cookie"]

        for _ in range(6):
            clock.advance(510)
            await client.get("/read")
        elapsed = REFRESH + 10 + 6 * 510  # 3130 s: 470 s before the absolute timeout
        near_end = await client.post("/set/page/3")  # the cookie stops with the session
        assert f"Max-Age={ABSOLUTE - elapsed}" in near_end.headers["set-cookie"]


async def test_rotation_while_an_old_request_writes_does_not_bring_the_old_id_back(
    app: FastAPI, client: httpx.AsyncClient, store: CountingStore
) -> None:
    old = session_cookie(await client.post("/cart/apple"))
    assert old is not None
    slow = asyncio.create_task(client.post("/slow/set/late/yes"))  # sent with the old id
    await app.state.gate.entered.wait()
    new = session_cookie(await client.post("/login/ana"))  # rotated while slow is running
    app.state.gate.release.set()
    late = await slow

    assert new not in (None, old)
    # The late write found its session gone: nothing written, and no Set-Cookie that would
    # make the browser drop the id the login just gave it.
    assert "set-cookie" not in late.headers
    assert (await client.get("/read")).json() == {"cart": ["apple"], "user": "ana"}
    assert await store.count() == 1
    send_only(client, old)
    assert (await client.get("/read")).json() == {}


async def test_rotation_after_a_concurrent_logout_does_not_log_back_in(
    app: FastAPI, client: httpx.AsyncClient, store: CountingStore
) -> None:
    await client.post("/login/ana")
    slow = asyncio.create_task(client.post("/slow/login/bo"))  # rotates, with the old id
    await app.state.gate.entered.wait()
    await client.post("/logout")
    app.state.gate.release.set()
    late = await slow
    assert session_cookie(late) is None
    assert await store.count() == 0
    assert (await client.get("/read")).json() == {}


async def test_web_sessions_stay_out_of_the_namespaces(
    client: httpx.AsyncClient, store: CountingStore
) -> None:
    session_id = session_cookie(await client.post("/set/user/ana"))
    assert session_id is not None
    digest = hashlib.sha256(session_id.encode()).hexdigest()
    assert [key async for key in store.scan()] == [f"~websession:{digest}"]
    manager = AsyncSessionManager(store, sweep_interval=None)
    assert (await manager.stats()).by_namespace() == {}
    assert await manager.purge(namespace="websession") == 0
    assert (await client.get("/read")).json() == {"user": "ana"}


async def websocket_session(app: FastAPI, session_id: str | None) -> list[Any]:
    """Open ``/ws`` with ``session_id`` as the cookie; what the endpoint sent as JSON."""
    headers = [(b"host", b"testserver")]
    if session_id is not None:
        headers.append((b"cookie", f"{COOKIE}={session_id}".encode()))
    scope = {
        "type": "websocket", "asgi": {"version": "3.0"}, "scheme": "wss", "http_version": "1.1",
        "path": "/ws", "raw_path": b"/ws", "root_path": "", "query_string": b"",
        "headers": headers, "server": ("testserver", 443), "client": ("127.0.0.1", 50000),
        "subprotocols": [],
    }  # fmt: skip
    incoming = [{"type": "websocket.connect"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    assert sent[0]["type"] == "websocket.accept"
    return [json.loads(message["text"]) for message in sent if message["type"] == "websocket.send"]


async def test_websocket_gets_the_session_read_only(
    app: FastAPI, client: httpx.AsyncClient, store: CountingStore, clock: FakeClock
) -> None:
    session_id = session_cookie(await client.post("/set/user/ana"))
    assert session_id is not None
    clock.advance(REFRESH)
    received, rotate = await websocket_session(app, session_id)
    assert received == {"user": "ana"}
    assert "read-only" in rotate["rotate"]
    assert store.calls["touch"] == 1  # opening the connection is activity: expiry slid
    assert (await client.get("/read")).json() == {"user": "ana"}  # the change was not saved
    assert store.calls["update"] == 0


async def test_websocket_without_a_valid_session_gets_an_empty_one(
    app: FastAPI, store: CountingStore
) -> None:
    for session_id in (None, "A" * 43):
        received, _ = await websocket_session(app, session_id)
        assert received == {}
    assert store.calls["create"] == 0
    assert await store.count() == 0


def test_unsafe_settings_are_refused() -> None:
    app = FastAPI()
    with pytest.raises(ConfigurationError, match="Secure"):
        ServerSessionMiddleware(app, store=AsyncMemoryStore(), same_site="none", secure=False)
    with pytest.raises(ConfigurationError, match="absolute_timeout"):
        ServerSessionMiddleware(app, store=AsyncMemoryStore(), idle_timeout=60, absolute_timeout=30)
    with pytest.raises(ConfigurationError, match="max_age"):
        ServerSessionMiddleware(app, store=AsyncMemoryStore(), max_age=0)


@pytest.mark.parametrize("refresh", [301, 600, 900])
def test_refresh_interval_over_half_the_idle_timeout_is_refused(refresh: int) -> None:
    with pytest.raises(ConfigurationError, match="refresh_interval"):
        ServerSessionMiddleware(
            FastAPI(), store=AsyncMemoryStore(), idle_timeout=600, refresh_interval=refresh
        )
    ServerSessionMiddleware(
        FastAPI(), store=AsyncMemoryStore(), idle_timeout=600, refresh_interval=300
    )


@pytest.mark.parametrize("prefix", ["websession:", "sessions:", "has space~"])
def test_key_prefix_must_start_with_a_tilde(prefix: str) -> None:
    with pytest.raises(ConfigurationError, match="key_prefix"):
        ServerSessionMiddleware(FastAPI(), store=AsyncMemoryStore(), key_prefix=prefix)
