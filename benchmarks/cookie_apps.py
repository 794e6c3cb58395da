"""The two apps the cookie-session benchmark serves with uvicorn: the same Starlette routes,
once behind sessionkit's ``ServerSessionMiddleware`` and once behind starsessions'
``SessionMiddleware`` with its ``RedisStore``, both on the Redis at ``BENCH_REDIS_URL``.

``GET /read`` only reads the session; ``POST /write`` changes one key; ``POST /login``
starts a session (the driver calls it once to get a cookie).
"""

from __future__ import annotations

import os

from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starsessions import SessionAutoloadMiddleware, SessionMiddleware
from starsessions.stores.redis import RedisStore

from sessionkit.integrations.starlette import ServerSessionMiddleware
from sessionkit.stores.redis import AsyncRedisStore

IDLE = 1800


async def read(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(request.session.get("user")))


async def write(request: Request) -> PlainTextResponse:
    request.session["hits"] = int(request.session.get("hits", 0)) + 1
    return PlainTextResponse("ok")


async def login(request: Request) -> PlainTextResponse:
    request.session.update(user="ana", role="editor", cart=[{"sku": 101, "qty": 2}], hits=0)
    return PlainTextResponse("ok")


ROUTES = [
    Route("/read", read),
    Route("/write", write, methods=["POST"]),
    Route("/login", login, methods=["POST"]),
]


def sessionkit_app() -> Starlette:
    """With the store's defaults: every Redis call bounded by a 5 s socket timeout."""
    return _sessionkit_app(socket_timeout=5.0)


def sessionkit_app_without_timeouts() -> Starlette:
    """With no socket timeout, like the redis-py client starsessions is given here.

    On Python 3.11 redis-py bounds each read and write with ``asyncio.wait_for``, which
    costs a task per call: this row shows what that bound costs.
    """
    return _sessionkit_app(socket_timeout=None)


def _sessionkit_app(socket_timeout: float | None) -> Starlette:
    store = AsyncRedisStore.from_url(
        os.environ["BENCH_REDIS_URL"], prefix="bench-sk:", socket_timeout=socket_timeout
    )
    app = Starlette(routes=ROUTES)
    app.add_middleware(
        ServerSessionMiddleware, store=store, cookie_name="session", idle_timeout=IDLE,
        secure="auto",
    )  # fmt: skip
    return app


def starsessions_app() -> Starlette:
    client = Redis.from_url(os.environ["BENCH_REDIS_URL"])
    store = RedisStore(connection=client, prefix="bench-ss.")
    app = Starlette(routes=ROUTES)
    app.add_middleware(SessionAutoloadMiddleware)
    # rolling=True: sliding expiry, as the sessionkit side has.
    app.add_middleware(
        SessionMiddleware, store=store, lifetime=IDLE, rolling=True, cookie_https_only=False
    )
    return app
