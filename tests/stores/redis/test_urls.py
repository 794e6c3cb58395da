"""Sentinel and cluster URLs: redis-py's from_url does not parse several hosts, we do."""

from __future__ import annotations

import pytest

from sessionkit import ConfigurationError, open_store
from sessionkit.stores._redis.keyspace import match_pattern
from sessionkit.stores._redis.urls import parse_multi_host_url
from sessionkit.stores.redis import RedisStore
from tests import redis_servers


def test_a_sentinel_url_with_several_hosts_credentials_and_db() -> None:
    parsed = parse_multi_host_url(
        "redis+sentinel://user:p%40ss@10.0.0.1:26380,sentinel-b,[::1]:26381/mymaster/3"
        "?sentinel_password=s3cret"
    )
    assert parsed.hosts == (("10.0.0.1", 26380), ("sentinel-b", 26379), ("::1", 26381))
    assert (parsed.username, parsed.password) == ("user", "p@ss")
    assert (parsed.service_name, parsed.db) == ("mymaster", 3)
    assert parsed.query == {"sentinel_password": "s3cret"}


def test_a_cluster_url_with_several_hosts() -> None:
    parsed = parse_multi_host_url("redis+cluster://:pw@a:7000,b:7001,c")
    assert parsed.hosts == (("a", 7000), ("b", 7001), ("c", 6379))
    assert (parsed.username, parsed.password, parsed.service_name) == (None, "pw", None)


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("redis+sentinel://a:26379", "service_name"),  # no service name
        ("redis+sentinel://a:26379/svc/notanumber", "db must be a number"),
        ("redis+sentinel://a:26379/svc/1/extra", "service_name"),
        ("redis+sentinel:///svc", "names no host"),
        ("redis+cluster://a:7000/0", "no path"),  # a cluster has no db
        ("redis+cluster://a:port", "bad host"),
        ("redis+cluster://a:70000", "bad port"),
        ("redis+cluster://a:7000?ssl=maybe", "unknown"),
    ],
)
def test_a_bad_multi_host_url_is_a_configuration_error(url: str, complaint: str) -> None:
    with pytest.raises(ConfigurationError, match=complaint):
        parse_multi_host_url(url)


def test_a_password_never_shows_in_the_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_multi_host_url("redis+cluster://:hunter2@a:7000/0")
    assert "hunter2" not in str(caught.value)


def test_a_bad_url_through_the_registry_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="service_name"):
        open_store("redis+sentinel://127.0.0.1:26379")


def test_scan_patterns_take_prefix_characters_literally() -> None:
    assert match_pattern("a*b?[c]\\:") == "a\\*b\\?\\[c\\]\\\\:*"


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/sessions", "rediss://h/x", "redis://h/1x"])
def test_a_db_that_is_not_a_number_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"the path of a rediss?:// URL is the db number"):
        open_store(url)


@pytest.mark.parametrize("url", ["redis://h:6379", "redis://h:6379/", "redis://h:6379/15"])
def test_an_empty_or_numeric_db_is_accepted(url: str) -> None:
    open_store(url).close()  # no connection is made until the first call


def test_url_schemes_are_case_insensitive() -> None:
    redis_servers.redis_server_binary()
    url = redis_servers.standalone().url.replace("redis://", "Redis://")
    for store in (
        open_store(url, prefix="sktest:case:"),
        RedisStore(url=url, prefix="sktest:case:"),
    ):
        store.set("k", {"n": 1})
        assert store.get("k") == {"n": 1}
        store.purge("")
        store.close()
