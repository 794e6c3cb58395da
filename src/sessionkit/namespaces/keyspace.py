"""How a namespace turns ``(tenant, namespace, id)`` into a store key, and back.

Store keys are 1-256 visible ASCII characters, so ids are percent-encoded (UTF-8, every
character outside ``A-Z a-z 0-9 _ . - ~`` becomes ``%XX``). The encoding never produces
``:``, ``@`` or ``%`` on its own, so the three parts of a key are always separable and no
id, however it is spelled, can land in another namespace or tenant:

===================  =====================================
default tenant       ``<namespace>:<encoded id>``
tenant ``acme``      ``@<encoded tenant>:<namespace>:<encoded id>``
===================  =====================================

Namespace names are plain (``[A-Za-z0-9_.-]``, starting with a letter or digit), so a
default-tenant key never starts with ``@`` and a prefix scan of one namespace or tenant
never reaches another.

Keys starting with ``~`` (`RESERVED_KEYS_PREFIX`) belong to the integrations (cookie
sessions, aiogram FSM, PTB persistence: ``~websession:``, ``~aiogram:``, ``~ptb:``). No
namespace name can start with ``~``, so `namespace_of` never claims such a key and the
manager's ``stats()`` and ``purge()`` never count or delete one.

```pycon
>>> space = KeySpace("templates", tenant="acme")
>>> space.key("lease: 2024/ñ")
'@acme:templates:lease%3A%202024%2F%C3%B1'
>>> parse_key('@acme:templates:lease%3A%202024%2F%C3%B1')
('acme', 'templates', 'lease: 2024/ñ')

```
"""

from __future__ import annotations

from urllib.parse import quote, unquote

import attrs

from ..errors import ConfigurationError, InvalidKey
from ..keys import (
    MAX_KEY_LENGTH,
    MAX_NAMESPACE_LENGTH,
    NAMESPACE_NAME,
    SEPARATOR,
    TENANT_MARK,
    split_key,
)

__all__ = [
    "MAX_NAMESPACE_LENGTH",
    "RESERVED_KEYS_PREFIX",
    "TENANT_KEYS_PREFIX",
    "KeySpace",
    "SessionId",
    "decode_id",
    "encode_id",
    "namespace_of",
    "namespace_prefix",
    "normalize_id",
    "parse_key",
    "tenant_prefix",
    "validate_namespace_name",
]

#: What callers may pass as a session or tenant id. An ``int`` is a convenience spelling of
#: its decimal string (Telegram user ids), so ``42`` and ``"42"`` name the same session.
SessionId = str | int

_NAMESPACE_NAME = NAMESPACE_NAME
_TENANT_MARK = TENANT_MARK
#: Every key of every tenant other than the default one starts with this.
TENANT_KEYS_PREFIX = _TENANT_MARK
#: Keys starting with this are not namespace sessions (the integrations' keys): no
#: namespace name starts with it, and the manager never counts, lists or purges them.
RESERVED_KEYS_PREFIX = "~"
_SEPARATOR = SEPARATOR


def normalize_id(value: object, what: str = "session id") -> str:
    """An id as the ``str`` it is stored as; `InvalidKey` if it is not an id."""
    return _id_text(value, what)


def _id_text(value: object, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidKey(f"a {what} is a str or an int, not {type(value).__name__}: {value!r}")
    text = value if isinstance(value, str) else str(value)
    if not text:
        raise InvalidKey(f"a {what} must not be empty")
    return text


def encode_id(value: SessionId, what: str = "session id") -> str:
    """Percent-encode an id into visible ASCII with no ``:``, ``@`` or unencoded ``%``."""
    # surrogatepass: a lone surrogate is still a distinct str; it must round-trip, not crash.
    return quote(_id_text(value, what), safe="", encoding="utf-8", errors="surrogatepass")


def decode_id(encoded: str) -> str:
    """The inverse of `encode_id` (ints come back as their decimal string)."""
    return unquote(encoded, encoding="utf-8", errors="surrogatepass")


def validate_namespace_name(name: object) -> str:
    """A namespace name: 1-64 characters of ``[A-Za-z0-9_.-]``, starting with a letter/digit."""
    if isinstance(name, str) and name.startswith(RESERVED_KEYS_PREFIX):
        raise ConfigurationError(
            f"a namespace name cannot start with {RESERVED_KEYS_PREFIX!r} (keys starting with it "
            f"belong to the integrations), not {name!r}"
        )
    if not isinstance(name, str) or len(name) > MAX_NAMESPACE_LENGTH or not (
        _NAMESPACE_NAME.fullmatch(name)
    ):
        raise ConfigurationError(
            f"a namespace name is 1-{MAX_NAMESPACE_LENGTH} characters of A-Z a-z 0-9 _ . - "
            f"starting with a letter or digit, not {name!r}"
        )
    return name


@attrs.frozen(init=False)
class KeySpace:
    """The keys of one namespace in one tenant (``tenant=None``: the default tenant)."""

    namespace: str
    tenant: str | None
    prefix: str  # every key of this namespace and tenant, and nothing else, starts with it

    def __init__(self, namespace: str, tenant: SessionId | None = None) -> None:
        validate_namespace_name(namespace)
        tenant_text = None if tenant is None else _id_text(tenant, "tenant id")
        prefix = (
            f"{namespace}{_SEPARATOR}"
            if tenant_text is None
            else f"{tenant_prefix(tenant_text)}{namespace}{_SEPARATOR}"
        )
        if len(prefix) >= MAX_KEY_LENGTH:
            raise InvalidKey(
                f"tenant id {_shorten(tenant_text)} is too long: its keys would exceed "
                f"{MAX_KEY_LENGTH} characters"
            )
        self.__attrs_init__(namespace, tenant_text, prefix)

    @property
    def max_id_length(self) -> int:
        """The longest *encoded* id that still fits in a store key."""
        return MAX_KEY_LENGTH - len(self.prefix)

    def key(self, session_id: SessionId) -> str:
        """The store key for ``session_id``; `InvalidKey` naming the id if none fits."""
        encoded = encode_id(session_id)
        if len(encoded) > self.max_id_length:
            raise InvalidKey(
                f"session id {_shorten(session_id)} is too long for namespace "
                f"{self.namespace!r}: it encodes to {len(encoded)} characters, over the "
                f"{self.max_id_length} its keys have room for (ids are percent-encoded UTF-8; "
                f"keys are at most {MAX_KEY_LENGTH} characters)"
            )
        return self.prefix + encoded

    def id_prefix(self, id_prefix: str) -> str | None:
        """The key prefix of every id starting with ``id_prefix`` (encoding keeps prefixes).

        ``None`` when it is longer than any key can be: no id starts with it.
        """
        if not isinstance(id_prefix, str):
            raise InvalidKey(f"an id prefix is a str, not {type(id_prefix).__name__}")
        encoded = quote(id_prefix, safe="", encoding="utf-8", errors="surrogatepass")
        prefix = self.prefix + encoded
        return prefix if len(prefix) <= MAX_KEY_LENGTH else None

    def session_id(self, key: str) -> str:
        """The id a key of this key space holds."""
        if not key.startswith(self.prefix):
            raise InvalidKey(f"key {key!r} is not in namespace {self.namespace!r}")
        return decode_id(key[len(self.prefix) :])


def tenant_prefix(tenant: SessionId | None) -> str:
    """The prefix of every key of ``tenant`` (``None``: not a prefix; see `parse_key`)."""
    if tenant is None:
        return ""
    return f"{_TENANT_MARK}{encode_id(tenant, 'tenant id')}{_SEPARATOR}"


def namespace_of(key: str) -> tuple[str | None, str] | None:
    """``(tenant, namespace)`` for a key under a namespace's prefix, else ``None``.

    This is what the manager's ``stats()`` and ``purge()`` count and delete: every key a
    namespace's own ``count()`` and ``purge()`` cover (``<namespace>:...`` and
    ``@<tenant>:<namespace>:...``), and nothing else (never a ``~`` key).

    ```pycon
    >>> namespace_of("@acme:templates:t1"), namespace_of("templates:t1")
    (('acme', 'templates'), (None, 'templates'))
    >>> namespace_of("~websession:4f1c"), namespace_of("plain"), namespace_of("@acme:x")
    (None, None, None)

    ```
    """
    split = _split_prefix(key)
    if split is None:
        return None
    encoded_tenant, namespace, _ = split
    return (None if encoded_tenant is None else decode_id(encoded_tenant)), namespace


def namespace_prefix(key: str) -> str | None:
    """The namespace prefix (``[@<tenant>:]<namespace>:``) ``key`` is under, else ``None``.

    ```pycon
    >>> namespace_prefix("@acme:templates:t1"), namespace_prefix("~aiogram:1:2")
    ('@acme:templates:', None)

    ```
    """
    split = _split_prefix(key)
    return None if split is None else key[: split[2]]


def _split_prefix(key: str) -> tuple[str | None, str, int] | None:
    """(encoded tenant, namespace, length of the prefix) of a namespace key, else None."""
    encoded_tenant, namespace, length = split_key(key)
    return None if namespace is None else (encoded_tenant, namespace, length)


def parse_key(key: str) -> tuple[str | None, str, str] | None:
    """``(tenant, namespace, id)`` for a key a namespace wrote, else ``None``."""
    tenant: str | None = None
    rest = key
    if key.startswith(_TENANT_MARK):
        encoded_tenant, separator, rest = key[1:].partition(_SEPARATOR)
        if not separator or not encoded_tenant:
            return None
        tenant = decode_id(encoded_tenant)
    namespace, separator, encoded_id = rest.partition(_SEPARATOR)
    if not separator or not _NAMESPACE_NAME.fullmatch(namespace) or _SEPARATOR in encoded_id:
        return None
    return tenant, namespace, decode_id(encoded_id)


def _shorten(value: object, limit: int = 60) -> str:
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[: limit - 5]}...{text[-2:]} ({len(str(value))} characters)"
