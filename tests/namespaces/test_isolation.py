"""Tenant and namespace isolation, as a Hypothesis property on every backend.

Random ids (any unicode, separators and the key syntax's own ``:``, ``@``, ``%``
included), random tenants and random operations: after each operation, every
(tenant, namespace) view holds exactly what was written through it, no more and no less,
by get, ids, count, get_many and the manager's stats; purges reach only what they name.
Operations: put, create, merge, update with a default, delete, touch, ids and count with a
random id prefix, and purges of a view, a tenant and a namespace.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessionkit import FakeClock, Namespace, SessionManager, TTLPolicy
from tests.backends import SPECS


@attrs.define
class Item:
    n: int


NAMESPACES = ["x", "xy", "x.y"]  # "x" is a prefix of the others: prefix scans must not leak
POLICY = TTLPolicy.sliding(3600)  # so that touch really renews (a keyed store call)
tenants = st.lists(
    st.one_of(st.none(), st.text(min_size=1, max_size=6), st.sampled_from(["a:b", "@", "%40"])),
    min_size=2,
    max_size=3,
    unique_by=lambda t: t,
)
ids = st.one_of(
    st.text(min_size=1, max_size=12),
    st.sampled_from(["x:1", "@a:x:1", ":", "%3A", "a%2", "xy"]),
    st.integers(min_value=0, max_value=10**6),
)

id_prefixes = st.one_of(
    st.text(max_size=3), st.sampled_from(["x", ":", "%", "@", "%3A", "1", "a:", "xy"])
)

View = tuple[str | None, str]  # (tenant, namespace)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[str | None], list[tuple[Any, ...]]]:
    tenant_list = draw(tenants)
    views = st.tuples(st.sampled_from(tenant_list), st.sampled_from(NAMESPACES))
    operation = st.one_of(
        st.tuples(st.just("put"), views, ids, st.integers(0, 99)),
        st.tuples(st.just("merge"), views, ids, st.integers(0, 99)),
        st.tuples(st.just("create"), views, ids, st.integers(0, 99)),
        st.tuples(st.just("update_default"), views, ids, st.integers(0, 99)),
        st.tuples(st.just("touch"), views, ids),
        st.tuples(st.just("ids_prefix"), views, id_prefixes),
        st.tuples(st.just("delete"), views, ids),
        st.tuples(st.just("purge_view"), views),
        st.tuples(st.just("purge_tenant"), st.sampled_from(tenant_list)),
        st.tuples(st.just("purge_namespace"), st.sampled_from(NAMESPACES)),
    )
    return tenant_list, draw(st.lists(operation, min_size=1, max_size=12))


def check_property(manager: SessionManager) -> Callable[..., None]:
    def namespace(view: View) -> Namespace[Item]:
        tenant, name = view
        owner = manager if tenant is None else manager.for_tenant(tenant)
        return owner.namespace(name, Item, policy=POLICY)

    @given(scenario=scenarios())
    def check(scenario: tuple[list[str | None], list[tuple[Any, ...]]]) -> None:
        tenant_list, operations = scenario
        manager.purge()
        expected: dict[View, dict[str, Item]] = {
            (tenant, name): {} for tenant in tenant_list for name in NAMESPACES
        }
        for operation in operations:
            kind = operation[0]
            if kind == "put":
                _, view, session_id, n = operation
                namespace(view).put(session_id, Item(n))
                expected[view][str(session_id)] = Item(n)
            elif kind == "merge":
                _, view, session_id, n = operation
                try:
                    namespace(view).merge(session_id, n=n)
                    assert str(session_id) in expected[view]
                    expected[view][str(session_id)] = Item(n)
                except KeyError:  # SessionNotFound
                    assert str(session_id) not in expected[view]
            elif kind == "create":
                _, view, session_id, n = operation
                created = namespace(view).create(session_id, Item(n))
                assert created == (str(session_id) not in expected[view])
                expected[view].setdefault(str(session_id), Item(n))
            elif kind == "update_default":
                _, view, session_id, n = operation
                new = namespace(view).update(
                    session_id, lambda item, n=n: Item(item.n + n), default=Item(1000)
                )
                old = expected[view].get(str(session_id), Item(1000))
                assert new == Item(old.n + n)
                expected[view][str(session_id)] = new
            elif kind == "touch":
                _, view, session_id = operation
                assert namespace(view).touch(session_id) == (str(session_id) in expected[view])
            elif kind == "ids_prefix":
                _, view, prefix = operation
                matching = sorted(i for i in expected[view] if i.startswith(prefix))
                assert sorted(namespace(view).ids(prefix)) == matching, (view, prefix)
                assert namespace(view).count(prefix) == len(matching), (view, prefix)
            elif kind == "delete":
                _, view, session_id = operation
                existed = namespace(view).delete(session_id)
                assert existed == (expected[view].pop(str(session_id), None) is not None)
            elif kind == "purge_view":
                _, view = operation
                assert namespace(view).purge() == len(expected[view])
                expected[view].clear()
            elif kind == "purge_tenant":
                _, tenant = operation
                if tenant is None:
                    continue  # on the root manager, tenant=None means every tenant
                doomed = [v for v in expected if v[0] == tenant]
                assert manager.purge(tenant=tenant) == sum(len(expected[v]) for v in doomed)
                for view in doomed:
                    expected[view].clear()
            else:
                _, name = operation
                doomed = [v for v in expected if v[1] == name]
                assert manager.purge(namespace=name) == sum(len(expected[v]) for v in doomed)
                for view in doomed:
                    expected[view].clear()
            for view, sessions in expected.items():
                space = namespace(view)
                assert sorted(space.ids()) == sorted(sessions), view
                assert space.count() == len(sessions), view
                assert space.get_many(sessions) == sessions, view
            every_id = {i for sessions in expected.values() for i in sessions}
            for view, sessions in expected.items():
                space = namespace(view)
                for session_id in every_id:
                    assert space.get(session_id) == sessions.get(session_id), (view, session_id)
            stats = manager.stats()
            assert stats.other == 0
            assert stats.counts == {view: len(s) for view, s in expected.items() if s}

    return check


@pytest.mark.parametrize("spec_name", sorted(SPECS))
def test_nothing_crosses_tenants_or_namespaces(spec_name: str, tmp_path: Path) -> None:
    spec = SPECS[spec_name]
    spec.require()
    options = spec.options(uuid.uuid4().hex[:12])
    if spec.fake_clock:
        options["clock"] = FakeClock()
    manager = SessionManager.from_url(spec.url(tmp_path), sweep_interval=None, **options)
    examples = 60 if spec_name == "memory" else 8
    try:
        settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        )(check_property(manager))()
    finally:
        manager.purge()
        manager.close()
