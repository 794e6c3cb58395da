"""The session manager: presets, the seed 001 wizard across restarts, conversations' TTL,
tenants, stats, purge, configuration and the background sweeper."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from sessionkit import (
    AsyncSessionManager,
    ConfigurationError,
    FakeClock,
    SerializationError,
    SessionNotFound,
    TTLPolicy,
)
from sessionkit.presets import (
    CHANNEL_REGISTRATION,
    TARIFF_CREATION,
    TARIFF_EDIT,
    AdminSession,
    AsyncDocumentApp,
    Conversation,
    TemplateSession,
    WizardError,
)
from sessionkit.stores.memory import MemoryState
from tests.backends import SPECS, BackendSpec
from tests.namespaces import tracking

HOUR = 3600.0
ADMIN = 123456789


@attrs.define
class Draft:
    title: str


@attrs.define
class Backend:
    """Opens managers on one backend, all on the same data (a restart is a new manager)."""

    spec: BackendSpec
    tmp_path: Path
    token: str
    clock: FakeClock | None
    state: MemoryState | None

    def open(self, **manager_options: Any) -> AsyncSessionManager:
        options = {**self.spec.options(self.token), **manager_options}
        if self.clock is not None:
            options["clock"] = self.clock
        if self.state is not None:  # memory: a restart keeps the process, so share the data
            options["state"] = self.state
        options.setdefault("sweep_interval", None)
        return AsyncSessionManager.from_url(self.spec.url(self.tmp_path), **options)

    def require_fake_clock(self) -> FakeClock:
        if self.clock is None:
            pytest.skip(f"{self.spec.name} keeps its own time; this test moves a fake clock")
        return self.clock


@pytest.fixture(params=sorted(SPECS))
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    spec = SPECS[request.param]
    spec.require()
    clock = FakeClock() if spec.fake_clock else None
    is_memory = spec.url(tmp_path).startswith("memory://")
    state = MemoryState(clock=clock) if is_memory and clock is not None else None
    yield (b := Backend(spec, tmp_path, uuid.uuid4().hex[:12], clock, state))
    async with b.open() as cleanup:
        await cleanup.purge()


@pytest.fixture
async def memory() -> AsyncIterator[tuple[AsyncSessionManager, FakeClock]]:
    clock = FakeClock()
    async with AsyncSessionManager.from_url("memory://", clock=clock, sweep_interval=None) as m:
        yield m, clock


# -- seed 001: the admin wizard ---------------------------------------------------------------


async def test_tariff_wizard_survives_a_restart_of_the_manager(backend: Backend) -> None:
    async with backend.open() as manager:
        await AsyncDocumentApp(manager).admin.start(ADMIN, TARIFF_CREATION)
        await AsyncDocumentApp(manager).admin.advance(ADMIN, 990, flow=TARIFF_CREATION)
        await AsyncDocumentApp(manager).admin.advance(ADMIN, 30, flow=TARIFF_CREATION)

    async with backend.open() as restarted:
        session = await AsyncDocumentApp(restarted).admin.current(ADMIN, TARIFF_CREATION)
        assert session is not None
        assert (session.step, session.data) == ("name", {"price": 990, "duration": 30})
        session = await AsyncDocumentApp(restarted).admin.advance(
            ADMIN, "Pro", flow=TARIFF_CREATION
        )
        assert session.step == "confirm"
        finished = await AsyncDocumentApp(restarted).admin.finish(ADMIN, flow=TARIFF_CREATION)
        assert finished.data == {"price": 990, "duration": 30, "name": "Pro"}
        assert await AsyncDocumentApp(restarted).admin.current(ADMIN) is None
        assert await AsyncDocumentApp(restarted).admin.count() == 0


async def test_the_wizard_expires_after_its_ttl(backend: Backend) -> None:
    # Precise, so on a fake clock; tests/namespaces/*/test_namespace_contract.py checks
    # (coarsely) that TTLs expire on the backends whose server keeps time.
    clock = backend.require_fake_clock()
    ttl = 600.0
    async with backend.open() as manager:
        started = await AsyncDocumentApp(manager).admin.start(ADMIN, TARIFF_CREATION)
        assert started.expires_at == started.started_at + ttl
        clock.advance(ttl * 0.6)
        await AsyncDocumentApp(manager).admin.advance(ADMIN, 990)  # a step does not extend the TTL
        clock.advance(ttl * 0.6)
        assert await AsyncDocumentApp(manager).admin.current(ADMIN) is None
        with pytest.raises(SessionNotFound):
            await AsyncDocumentApp(manager).admin.advance(ADMIN, 30)
        assert not await AsyncDocumentApp(manager).admin.is_pending(ADMIN, TARIFF_CREATION)


async def test_wizard_back_keeps_what_was_entered(
    memory: tuple[AsyncSessionManager, FakeClock],
) -> None:
    admin = AsyncDocumentApp(memory[0]).admin
    await admin.start(ADMIN, TARIFF_CREATION)
    await admin.advance(ADMIN, 990)
    session = await admin.back(ADMIN)
    assert (session.step, session.data) == ("price", {"price": 990})
    with pytest.raises(WizardError, match="first step"):
        await admin.back(ADMIN)
    assert (await admin.advance(ADMIN, 1990)).data == {"price": 1990}


async def test_wizard_misuse_is_a_wizard_error_and_changes_nothing(
    memory: tuple[AsyncSessionManager, FakeClock],
) -> None:
    admin = AsyncDocumentApp(memory[0]).admin
    await admin.start(ADMIN, TARIFF_EDIT, {"tariff_id": 7, "field": "price"})
    before = await admin.current(ADMIN)
    with pytest.raises(WizardError, match="tariff_edit, not tariff_creation"):
        await admin.advance(ADMIN, 5, flow=TARIFF_CREATION)  # tried: a stale button
    with pytest.raises(WizardError, match="cannot finish yet"):
        await admin.finish(ADMIN)  # tried: finishing before the confirm step
    assert await admin.current(ADMIN) == before
    await admin.advance(ADMIN, 1290)
    with pytest.raises(WizardError, match="last step"):
        await admin.advance(ADMIN, "again")  # tried: advancing past confirm
    assert (await admin.finish(ADMIN)).data == {"tariff_id": 7, "field": "price", "value": 1290}


async def test_mistyped_preset_sessions_are_rejected_and_nothing_is_written(
    memory: tuple[AsyncSessionManager, FakeClock],
) -> None:
    manager, _ = memory
    with pytest.raises(SerializationError, match=r"'admin'.*field 'user_id'"):
        await AsyncDocumentApp(manager).admin.start("42", TARIFF_CREATION)  # type: ignore[arg-type]  # tried: a str user id
    assert await AsyncDocumentApp(manager).admin.count() == 0
    with pytest.raises(SerializationError, match=r"'conversations'.*usage\['input_tokens'\]"):
        await AsyncDocumentApp(
            manager
        ).conversations.append(  # tried: a float token count, on a new thread
            "t1",
            {"role": "user"},
            usage={"input_tokens": 1.5},  # type: ignore[dict-item]
        )
    assert not await AsyncDocumentApp(manager).conversations.exists("t1")
    await AsyncDocumentApp(manager).conversations.append(
        "t1", {"role": "user"}, usage={"input_tokens": 1}
    )
    with pytest.raises(SerializationError, match="input_tokens"):
        await AsyncDocumentApp(
            manager
        ).conversations.append(  # tried: the same, on an existing thread
            "t1",
            {"role": "user"},
            usage={"input_tokens": 1.5},  # type: ignore[dict-item]
        )
    conversation = await AsyncDocumentApp(manager).conversations.get(
        "t1"
    )  # still readable, unchanged
    assert conversation is not None
    assert (len(conversation.messages), conversation.usage) == (1, {"input_tokens": 1})


async def test_pending_sets_and_cancel(memory: tuple[AsyncSessionManager, FakeClock]) -> None:
    admin = AsyncDocumentApp(memory[0]).admin
    await admin.start(1, CHANNEL_REGISTRATION)
    await admin.start(2, CHANNEL_REGISTRATION)
    await admin.start(3, TARIFF_CREATION)
    await admin.advance(2, None, channel_id=-100123, title="News")  # temporary channel data
    assert await admin.pending(CHANNEL_REGISTRATION) == {1, 2}
    assert await admin.is_pending(3, TARIFF_CREATION)
    assert await admin.cancel(1)
    assert not await admin.cancel(1)
    assert await admin.pending(CHANNEL_REGISTRATION) == {2}
    finished = await admin.finish(2, flow=CHANNEL_REGISTRATION)
    assert finished.data == {"channel_id": -100123, "title": "News"}


# -- seed 004: conversations ---------------------------------------------------------------------


async def test_conversation_ttl_renews_on_each_write_and_is_capped(backend: Backend) -> None:
    clock = backend.require_fake_clock()
    async with backend.open() as manager:
        chats = AsyncDocumentApp(manager).conversations
        await chats.append("thread-1", {"role": "user", "content": "hola"})
        assert await chats.ttl("thread-1") == pytest.approx(2 * HOUR)
        for _ in range(14):  # a write every 1.5 h, up to 21 h: each renews the full 2 h
            clock.advance(1.5 * HOUR)
            await chats.append("thread-1", {"role": "assistant", "content": "..."})
            assert await chats.ttl("thread-1") == pytest.approx(2 * HOUR)
        clock.advance(1.5 * HOUR)  # 22.5 h old: only 1.5 h of the 24 h lifetime is left
        conversation = await chats.append(
            "thread-1", {"role": "user", "content": "¿sigues?"}, usage={"input_tokens": 10}
        )
        assert await chats.ttl("thread-1") == pytest.approx(1.5 * HOUR)
        assert len(conversation.messages) == 16
        assert conversation.last_activity == clock.now()
        assert conversation.usage == {"input_tokens": 10}
        clock.advance(1.5 * HOUR)
        assert await chats.get("thread-1") is None


async def test_reading_a_conversation_does_not_renew_it(
    memory: tuple[AsyncSessionManager, FakeClock],
) -> None:
    manager, clock = memory
    await AsyncDocumentApp(manager).conversations.put("t", Conversation())
    clock.advance(HOUR)
    assert await AsyncDocumentApp(manager).conversations.get("t") == Conversation()
    assert await AsyncDocumentApp(manager).conversations.ttl("t") == pytest.approx(HOUR)


# -- presets, namespaces, tenants ------------------------------------------------------------------


async def test_seed_000_presets_expire_after_24_hours(
    memory: tuple[AsyncSessionManager, FakeClock],
) -> None:
    manager, clock = memory
    await AsyncDocumentApp(manager).templates.put("t1", TemplateSession(filename="lease.docx"))
    await AsyncDocumentApp(manager).generated_documents.put(
        "d1", AsyncDocumentApp(manager).generated_documents.model("out.pdf")
    )
    clock.advance(24 * HOUR - 1)
    assert await AsyncDocumentApp(manager).templates.exists("t1")
    assert await AsyncDocumentApp(manager).generated_documents.exists("d1")
    clock.advance(1)
    assert not await AsyncDocumentApp(manager).templates.exists("t1")
    assert not await AsyncDocumentApp(manager).generated_documents.exists("d1")


async def test_policies_override_the_presets_defaults() -> None:
    clock = FakeClock()
    manager = AsyncSessionManager.from_url(
        "memory://", clock=clock, policies={"admin": TTLPolicy.absolute(60)}
    )
    await AsyncDocumentApp(manager).admin.start(ADMIN, TARIFF_CREATION)
    assert await AsyncDocumentApp(manager).admin.ttl(ADMIN) == pytest.approx(60)
    await manager.close()
    with pytest.raises(ConfigurationError, match="TTLPolicy"):  # tried: not a policy
        AsyncSessionManager.from_url("memory://", policies={"admin": 60})  # type: ignore[dict-item]
    with pytest.raises(ConfigurationError):  # tried: a name no namespace can have
        AsyncSessionManager.from_url("memory://", policies={"bad name": TTLPolicy.absolute(60)})


async def test_policies_accept_any_namespace_name() -> None:
    clock = FakeClock()
    manager = AsyncSessionManager.from_url(
        "memory://", clock=clock, policies={"drafts": TTLPolicy.absolute(30)}
    )
    drafts = manager.namespace("drafts", Draft, policy=TTLPolicy.absolute(3600))
    await drafts.put("d1", Draft("notes"))
    assert await drafts.ttl("d1") == pytest.approx(30)  # the application's policy wins
    assert manager.namespace("drafts", Draft, policy=TTLPolicy.absolute(3600)) is drafts
    await manager.close()


async def test_namespace_defines_an_app_namespace_once(
    memory: tuple[AsyncSessionManager, FakeClock],
) -> None:
    manager, _ = memory
    drafts = manager.namespace("drafts", Draft, policy=TTLPolicy.absolute(60))
    assert manager.namespace("drafts", Draft) is drafts
    assert manager.for_tenant("acme").namespace("drafts", Draft).policy == drafts.policy
    with pytest.raises(ConfigurationError, match="already holds Draft"):
        manager.namespace("drafts", TemplateSession)  # tried: a second class under one name
    AsyncDocumentApp(manager).templates  # noqa: B018 - defines the preset namespace
    with pytest.raises(ConfigurationError, match="already holds TemplateSession"):
        manager.namespace("templates", Draft)  # tried: reusing a preset's name
    with pytest.raises(ConfigurationError, match="another policy"):
        manager.namespace("drafts", Draft, policy=TTLPolicy.absolute(61))
    with pytest.raises(ConfigurationError, match="namespace name"):
        manager.namespace("my drafts", Draft)  # tried: a space in the name


async def test_tenants_see_only_their_own_sessions(backend: Backend) -> None:
    async with backend.open() as manager:
        acme, globex = manager.for_tenant("acme"), manager.for_tenant("globex")
        await AsyncDocumentApp(manager).templates.put("t1", TemplateSession(filename="root.docx"))
        await AsyncDocumentApp(acme).templates.put("t1", TemplateSession(filename="acme.docx"))
        await AsyncDocumentApp(globex).conversations.append("t1", {"role": "user", "content": "hi"})
        acme_template = await AsyncDocumentApp(acme).templates.get("t1")
        assert acme_template is not None
        assert acme_template.filename == "acme.docx"
        assert await AsyncDocumentApp(globex).templates.get("t1") is None
        assert await AsyncDocumentApp(acme).templates.count() == 1
        assert await AsyncDocumentApp(acme).conversations.count() == 0

        stats = await manager.stats()
        assert stats.counts == {
            (None, "templates"): 1,
            ("acme", "templates"): 1,
            ("globex", "conversations"): 1,
        }
        assert stats.by_namespace() == {"templates": 2, "conversations": 1}
        assert stats.by_tenant()["acme"] == {"templates": 1}
        assert (await acme.stats()).counts == {("acme", "templates"): 1}


async def test_a_tenant_view_cannot_reach_another_tenant(
    memory: tuple[AsyncSessionManager, FakeClock],
) -> None:
    manager, _ = memory
    acme = manager.for_tenant("acme")
    await AsyncDocumentApp(manager.for_tenant("globex")).templates.put(
        "t1", TemplateSession(filename="g")
    )
    with pytest.raises(ConfigurationError, match="tenant 'acme' cannot reach tenant 'globex'"):
        acme.for_tenant("globex")  # tried: hopping from one tenant's view to another's
    with pytest.raises(ConfigurationError, match="cannot reach"):
        acme.for_tenant(7)  # tried: an int tenant id from a view
    assert acme.for_tenant("acme") is acme  # its own tenant: the view itself
    assert await AsyncDocumentApp(acme).templates.get("t1") is None
    assert (await manager.stats()).counts == {("globex", "templates"): 1}


async def test_views_build_their_namespaces_once_and_lazily(
    memory: tuple[AsyncSessionManager, FakeClock],
) -> None:
    manager, _ = memory
    acme = manager.for_tenant("acme")
    assert acme._namespaces == {}  # a view per request builds nothing it does not use
    assert AsyncDocumentApp(acme).templates is AsyncDocumentApp(acme).templates
    assert list(acme._namespaces) == ["templates"]
    assert acme.namespace("templates", TemplateSession) is AsyncDocumentApp(acme).templates
    admin = AsyncDocumentApp(acme).admin
    assert acme.namespace("admin", AdminSession) is admin
    assert AsyncDocumentApp(acme).templates.tenant == "acme"
    assert AsyncDocumentApp(manager).templates.tenant is None


async def test_keys_outside_namespaces_are_never_counted_or_purged(backend: Backend) -> None:
    async with backend.open() as manager:
        store = manager.store
        integration_keys = ["~websession:4f1c", "~aiogram:1:2:3:state", "~ptb:user:42"]
        for key in integration_keys:  # what the integrations write beside the namespaces
            await store.set(key, {"kept": True})
        await store.set("plain", {"kept": True})  # and a key the app wrote to the store
        await AsyncDocumentApp(manager).templates.put("t1", TemplateSession())
        await AsyncDocumentApp(manager.for_tenant("acme")).admin.start(ADMIN, TARIFF_CREATION)

        stats = await manager.stats()
        assert stats.counts == {(None, "templates"): 1, ("acme", "admin"): 1}
        assert stats.total == 2  # sessions only
        assert stats.other == len(integration_keys) + 1  # reported apart, for information
        assert "~websession" not in stats.by_namespace()

        assert await manager.purge() == 2  # "clear all sessions": every namespace session
        assert await manager.purge(namespace="templates") == 0
        for key in [*integration_keys, "plain"]:
            assert await store.get(key) == {"kept": True}, key
        assert (await manager.stats()).total == 0
        for key in [*integration_keys, "plain"]:
            await store.delete(key)


async def test_purge_by_namespace_and_tenant(backend: Backend) -> None:
    async with backend.open() as manager:
        acme, globex = manager.for_tenant("acme"), manager.for_tenant("globex")
        for owner in (manager, acme, globex):
            await AsyncDocumentApp(owner).templates.put("t", TemplateSession())
            await AsyncDocumentApp(owner).admin.start(ADMIN, TARIFF_CREATION)
        assert await acme.purge() == 2
        assert await globex.purge(namespace="admin") == 1
        with pytest.raises(ConfigurationError, match="cannot purge tenant 'globex'"):
            await acme.purge(tenant="globex")  # tried: reaching another tenant from a view
        assert (await manager.stats()).counts == {
            (None, "templates"): 1,
            (None, "admin"): 1,
            ("globex", "templates"): 1,
        }
        assert await manager.purge(namespace="templates") == 2  # every tenant
        assert await manager.purge() == 1  # "clear all sessions"
        assert (await manager.stats()).total == 0


# -- configuration and lifecycle ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"policies": {"bad name": TTLPolicy.absolute(60)}}, ConfigurationError, "namespace name"),
        ({"policies": {"admin": 600}}, ConfigurationError, "is a TTLPolicy"),
        ({"sweep_interval": 0}, ValueError, "sweep interval"),
    ],
)
async def test_bad_manager_options_leave_no_store_open(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    opened = tracking.OPENED
    before = len(opened)
    with pytest.raises(error, match=message):
        AsyncSessionManager.from_url("tracked://", **options)  # tried: each bad option
    assert all(store.closed for store in opened[before:])
    environ = {"SESSIONKIT_URL": "tracked://", "SESSIONKIT_SWEEP_INTERVAL": "off"}
    with pytest.raises(error, match=message):
        AsyncSessionManager.from_env(environ, **options)
    assert all(store.closed for store in opened[before:])


async def test_from_env_reads_the_url_and_prefixed_options() -> None:
    environ = {
        "SESSIONKIT_URL": "memory://",
        "SESSIONKIT_DEFAULT_TTL": "86400",
        "SESSIONKIT_SWEEP_INTERVAL": "off",
        "OTHER_APP_SETTING": "ignored",
    }
    manager = AsyncSessionManager.from_env(environ)
    assert manager.sweeper is None
    draft = manager.namespace("drafts", Draft)  # no TTL of its own: the store's default
    await draft.put("d", Draft("x"))
    assert await draft.ttl("d") == pytest.approx(86400, abs=1)
    await manager.close()


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "SESSIONKIT_URL is not set"),
        ({"SESSIONKIT_URL": "memory://", "SESSIONKIT_COLOUR": "blue"}, "unknown option.*colour"),
        ({"SESSIONKIT_URL": "memory://", "SESSIONKIT_SWEEP_INTERVAL": "soon"}, "not 'soon'"),
    ],
)
async def test_from_env_rejects_bad_configuration(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        AsyncSessionManager.from_env(environ)


async def test_the_sweeper_runs_inside_the_context_manager_only() -> None:
    clock = FakeClock()
    manager = AsyncSessionManager.from_url("memory://", clock=clock, sweep_interval=0.01)
    sweeper = manager.sweeper
    assert sweeper is not None
    assert not sweeper.running
    async with manager:
        assert sweeper.running
        await AsyncDocumentApp(manager).admin.start(ADMIN, TARIFF_CREATION)
        clock.advance(601)
        for _ in range(500):  # wait for two sweeps (bounded; nothing is asserted on time)
            if sweeper.runs >= 2:
                break
            await asyncio.sleep(0.01)
        assert sweeper.swept == 1
        assert sweeper.last_error is None
    assert not sweeper.running


async def test_close_is_idempotent_and_tenant_views_do_not_close_the_store() -> None:
    manager = AsyncSessionManager.from_url("memory://", sweep_interval=None)
    await manager.for_tenant("acme").close()
    await AsyncDocumentApp(manager).templates.put("t", TemplateSession())
    await manager.close()
    await manager.close()
