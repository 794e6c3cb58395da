"""The SQL test harness drops only its own run's tables, and others' only once stale."""

from __future__ import annotations

import datetime

from tests.backends import sql


def test_a_table_name_fits_the_store_limit_and_names_this_run() -> None:
    name = sql.table_name_for("0123456789ab")
    assert len(name) <= 40
    assert sql.is_ours(name)
    assert not sql.is_stale(name)


def test_a_concurrent_run_s_tables_are_neither_ours_nor_stale() -> None:
    other_run = "00000000" if sql.RUN_ID != "00000000" else "11111111"
    name = f"sktest_{sql.RUN_STAMP}_{other_run}_0123456789ab"
    assert not sql.is_ours(name)
    assert not sql.is_stale(name)


def test_only_tables_dated_over_a_day_ago_are_stale() -> None:
    now = datetime.datetime(2026, 12, 3, 12, 0, tzinfo=datetime.timezone.utc)
    assert sql.is_stale("sktest_2612021159_0badcafe_0123456789ab", now)
    assert not sql.is_stale("sktest_2612021201_0badcafe_0123456789ab", now)


def test_tables_of_other_shapes_are_never_touched() -> None:
    for name in ["sktest_12345_0123456789ab", "sessionkit_sessions", "sktest_x_y_z"]:
        assert not sql.is_ours(name)
        assert not sql.is_stale(name)
