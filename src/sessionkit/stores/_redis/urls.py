"""Redis URLs: the scheme and db checks redis-py skips, and the multi-host
``redis+sentinel://`` and ``redis+cluster://`` forms its ``from_url`` does not parse."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import attrs

from ...errors import ConfigurationError
from ...registry import redact_url

__all__ = [
    "REDIS_SCHEMES",
    "MultiHostURL",
    "check_tls_files",
    "checked_url",
    "parse_multi_host_url",
    "tombstone_setting",
]

#: Every scheme the Redis store opens.
REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+sentinel", "redis+cluster")


def checked_url(url: str) -> tuple[str, str]:
    """(scheme, url) with the scheme in lower case, as redis-py expects it; schemes are
    case-insensitive (RFC 3986, 3.1), so ``Redis://`` is ``redis://``.

    A ``redis://``/``rediss://`` path must be a db number: redis-py would quietly use db 0
    for ``redis://host/sessions``.
    """
    written, separator, rest = url.partition("://")
    scheme = written.lower()
    if not separator or scheme not in REDIS_SCHEMES:
        raise ConfigurationError(f"not a Redis URL: {redact_url(url)!r}")
    url = f"{scheme}://{rest}"
    if scheme in ("redis", "rediss"):
        db = unquote(urlsplit(url).path).strip("/")
        if db and not (db.isascii() and db.isdigit()):
            raise ConfigurationError(
                f"the path of a {scheme}:// URL is the db number (redis://host:6379/0), "
                f"not {db!r}: {redact_url(url)!r}"
            )
    return scheme, url


@attrs.frozen
class MultiHostURL:
    """A parsed ``redis+sentinel://`` or ``redis+cluster://`` URL."""

    scheme: str
    hosts: tuple[tuple[str, int], ...]
    username: str | None
    password: str | None
    service_name: str | None  # sentinel only
    db: int  # sentinel only; a cluster has just db 0
    query: dict[str, str]


_DEFAULT_PORTS = {"redis+sentinel": 26379, "redis+cluster": 6379}
_QUERY_KEYS = {
    "redis+sentinel": {"sentinel_username", "sentinel_password"},
    "redis+cluster": set(),
}


def parse_multi_host_url(url: str) -> MultiHostURL:
    """Parse ``scheme://[user:pass@]host:port,host:port[/service_name[/db]]``.

    ```pycon
    >>> parse_multi_host_url("redis+sentinel://10.0.0.1:26379,[::1]/mymaster/2").hosts
    (('10.0.0.1', 26379), ('::1', 26379))

    ```
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ConfigurationError(f"not a sentinel or cluster URL: {redact_url(url)!r}")
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    username = password = None
    if userinfo:
        user, _, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) or None
    hosts = tuple(
        _parse_host(item, _DEFAULT_PORTS[scheme], url) for item in hostlist.split(",") if item
    )
    if not hosts:
        raise ConfigurationError(f"{scheme}:// URL names no host: {redact_url(url)!r}")
    segments = [unquote(s) for s in parts.path.split("/") if s]
    service_name, db = None, 0
    if scheme == "redis+sentinel":
        if not segments or len(segments) > 2:
            raise ConfigurationError(
                f"a sentinel URL ends with /service_name (and optionally /db): {redact_url(url)!r}"
            )
        service_name = segments[0]
        if len(segments) == 2:
            if not segments[1].isdigit():
                raise ConfigurationError(f"db must be a number in {redact_url(url)!r}")
            db = int(segments[1])
    elif segments:
        raise ConfigurationError(f"a cluster URL has no path (no db): {redact_url(url)!r}")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(query) - _QUERY_KEYS[scheme])
    if unknown:
        raise ConfigurationError(
            f"unknown {scheme}:// URL parameter(s): {', '.join(unknown)} "
            "(pass client settings as client_options=)"
        )
    return MultiHostURL(scheme, hosts, username, password, service_name, db, query)


def _parse_host(item: str, default_port: int, url: str) -> tuple[str, int]:
    host, port_text = item, ""
    if item.startswith("["):  # [IPv6]:port
        host, _, rest = item[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif ":" in item:
        host, _, port_text = item.rpartition(":")
    if not host or (port_text and not port_text.isdigit()):
        raise ConfigurationError(f"bad host {item!r} in {redact_url(url)!r}")
    port = int(port_text) if port_text else default_port
    if not 0 < port < 65536:
        raise ConfigurationError(f"bad port in {item!r} in {redact_url(url)!r}")
    return host, port


#: The redis-py options that name TLS files (in client_options or the URL's query).
_TLS_FILE_OPTIONS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_ca_path")


def check_tls_files(url: str, options: Mapping[str, Any]) -> None:
    """A `ConfigurationError` now for a TLS file that is not there, rather than a
    connection error on every call (which would look like an outage)."""
    query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    for name in _TLS_FILE_OPTIONS:
        path = options.get(name, query.get(name))
        if isinstance(path, (str, os.PathLike)) and not os.path.exists(path):
            raise ConfigurationError(
                f"the Redis TLS option {name}={os.fspath(path)!r} names no file or directory"
            )


def tombstone_setting(
    url: str | None, tombstone_ttl: Any, default: float
) -> tuple[str | None, Any]:
    """(url without ``tombstone_ttl``, the tombstone TTL): the keyword, else the URL's
    ``?tombstone_ttl=<seconds>``, else ``default``; given both ways differently is a
    `ConfigurationError`."""
    found: str | None = None
    if url is not None and "tombstone_ttl=" in url:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        values = [value for name, value in query if name == "tombstone_ttl"]
        if values:
            found = values[-1]
            rest = [(name, value) for name, value in query if name != "tombstone_ttl"]
            url = urlunsplit(parts._replace(query=urlencode(rest)))
    if found is None:
        return url, default if tombstone_ttl is None else tombstone_ttl
    try:
        seconds = float(found)
    except ValueError:
        raise ConfigurationError(f"tombstone_ttl must be seconds, not {found!r}") from None
    if tombstone_ttl is not None and tombstone_ttl != seconds:
        raise ConfigurationError(
            f"tombstone_ttl given twice, as {tombstone_ttl!r} and in the URL ({found!r})"
        )
    return url, seconds
