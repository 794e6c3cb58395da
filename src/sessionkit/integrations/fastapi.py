"""FastAPI integration: a lifespan that opens the session manager, and dependencies.

::

    from fastapi import FastAPI
    from sessionkit.integrations.fastapi import ManagerDep, sessionkit_lifespan

    app = FastAPI(lifespan=sessionkit_lifespan())  # SESSIONKIT_URL=redis://... etc.

    @app.get("/carts/{cart_id}")
    async def read_cart(cart_id: str, manager: ManagerDep) -> dict[str, str]:
        cart = await manager.namespace("carts", Cart).get(cart_id)
        ...

The lifespan opens one `AsyncSessionManager` per process (from
``url`` and options, or from ``SESSIONKIT_*`` environment variables), starts its sweeper,
puts it on ``app.state.sessionkit`` and closes it at shutdown. Endpoints get it, or one of
its namespaces, through ``Depends``: no module-level singleton, and tests can open the app
on any store. The dependencies are ``async def``, so FastAPI runs them on the event loop
(no worker thread for a lookup on ``app.state``). Several worker processes each open their
own manager on the same shared store (Redis, PostgreSQL...), and see the same sessions.

`ServerSessionMiddleware` (server-side cookie sessions) is re-exported from
`sessionkit.integrations.starlette`. The document app's dependencies (``TemplatesDep``
and the rest) are in `sessionkit.presets.fastapi`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI
from starlette.requests import HTTPConnection

from ..errors import ConfigurationError
from ..manager import AsyncSessionManager
from ..namespaces._async.namespace import AsyncNamespace
from .starlette import ServerSession, ServerSessionMiddleware

__all__ = [
    "STATE_ATTRIBUTE",
    "ManagerDep",
    "ServerSession",
    "ServerSessionDep",
    "ServerSessionMiddleware",
    "get_manager",
    "get_server_session",
    "namespace_dependency",
    "open_manager",
    "sessionkit_lifespan",
]

T = TypeVar("T")

#: The ``app.state`` attribute holding the manager.
STATE_ATTRIBUTE = "sessionkit"

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


@asynccontextmanager
async def open_manager(
    app: FastAPI,
    *,
    url: str | None = None,
    environ: Mapping[str, str] | None = None,
    manager: AsyncSessionManager | None = None,
    **options: Any,
) -> AsyncIterator[AsyncSessionManager]:
    """Open the manager, start its sweeper and put it on ``app.state`` until exit.

    The manager comes from ``manager`` (already built), else from ``url`` and ``options``
    (store options, plus ``sweep_interval`` and ``policies``), else from the environment
    (``SESSIONKIT_URL``, ``SESSIONKIT_SWEEP_INTERVAL``, ``SESSIONKIT_<OPTION>``). Use it
    inside your own lifespan; `sessionkit_lifespan` is the shortcut when you have none.
    """
    if manager is None:
        if url is not None:
            manager = AsyncSessionManager.from_url(url, **options)
        else:
            manager = AsyncSessionManager.from_env(environ, **options)
    elif url is not None or options:
        raise ConfigurationError("pass either a manager or url/options, not both")
    async with manager:
        setattr(app.state, STATE_ATTRIBUTE, manager)
        try:
            yield manager
        finally:
            delattr(app.state, STATE_ATTRIBUTE)


def sessionkit_lifespan(
    *,
    url: str | None = None,
    environ: Mapping[str, str] | None = None,
    then: Lifespan | None = None,
    **options: Any,
) -> Lifespan:
    """A FastAPI ``lifespan`` running `open_manager` (arguments as there).

    ``then`` is your own lifespan, run inside, with the manager already available.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_manager(app, url=url, environ=environ, **options):
            if then is None:
                yield
            else:
                async with then(app):
                    yield

    return lifespan


async def get_manager(connection: HTTPConnection) -> AsyncSessionManager:
    """The app's session manager (``Depends(get_manager)``)."""
    manager = getattr(connection.app.state, STATE_ATTRIBUTE, None)
    if not isinstance(manager, AsyncSessionManager):
        raise ConfigurationError(
            "no session manager on app.state: create the app with "
            "FastAPI(lifespan=sessionkit_lifespan(...)) or call open_manager() in its lifespan"
        )
    return manager


ManagerDep = Annotated[AsyncSessionManager, Depends(get_manager)]


def namespace_dependency(
    name: str, model: type[T]
) -> Callable[[HTTPConnection], Awaitable[AsyncNamespace[T]]]:
    """A dependency returning your own namespace ``name`` of ``model`` objects.

    ``Drafts = Annotated[AsyncNamespace[Draft], Depends(namespace_dependency("drafts", Draft))]``
    """

    async def dependency(connection: HTTPConnection) -> AsyncNamespace[T]:
        return (await get_manager(connection)).namespace(name, model)

    return dependency


async def get_server_session(connection: HTTPConnection) -> ServerSession:
    """The request's server-side session (needs `ServerSessionMiddleware`)."""
    session = connection.scope.get("session")
    if not isinstance(session, ServerSession):
        raise ConfigurationError(
            "no server-side session: add app.add_middleware(ServerSessionMiddleware, ...)"
        )
    return session


ServerSessionDep = Annotated[ServerSession, Depends(get_server_session)]


_MOVED_TO_PRESETS = frozenset(
    {
        "AdminSessionsDep",
        "CancellationsDep",
        "ConversationsDep",
        "DocumentsDep",
        "ExtractionsDep",
        "GeneratedDocumentsDep",
        "TemplatesDep",
        "get_admin_sessions",
        "get_cancellations",
        "get_conversations",
        "get_documents",
        "get_extractions",
        "get_generated_documents",
        "get_templates",
    }
)


def __getattr__(name: str) -> Any:
    """The document app's dependencies, at their old place for one release (deprecated)."""
    if name in _MOVED_TO_PRESETS:
        import warnings  # noqa: PLC0415 - only on the deprecated path

        from ..presets import fastapi as presets_fastapi  # noqa: PLC0415 - it imports this

        warnings.warn(
            f"sessionkit.integrations.fastapi.{name} moved to sessionkit.presets.fastapi",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(presets_fastapi, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
