"""Key validation: one rule for every backend, and a clear error instead of silent mangling.

A store key is 1 to `MAX_KEY_LENGTH` visible ASCII characters (``!`` to ``~``): no
spaces, no control characters, nothing outside ASCII. That one charset means the same thing
on Redis, in a case-sensitive SQL column and in a file journal. Arbitrary ids (any unicode,
separators included) are the namespace layer's job: it encodes them into a valid key.

```pycon
>>> validate_key("templates:3f2a")
'templates:3f2a'
>>> validate_key("has space")
Traceback (most recent call last):
...
sessionkit.errors.InvalidKey: key 'has space' has a character that is not allowed at index 3...

```
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .errors import InvalidKey

__all__ = [
    "MAX_KEY_LENGTH",
    "MAX_NAMESPACE_LENGTH",
    "key_list",
    "split_key",
    "validate_key",
    "validate_keys",
    "validate_prefix",
]

#: The longest key a store accepts, in characters (and bytes: keys are ASCII).
MAX_KEY_LENGTH = 256

_ALLOWED = "!-~"  # the visible ASCII range, as a character class
_VALID = re.compile(f"[{_ALLOWED}]*")
_INVALID_CHAR = re.compile(f"[^{_ALLOWED}]")
_RULE = f"keys are 1-{MAX_KEY_LENGTH} visible ASCII characters, '!' to '~'"

# The key layout namespaces write (``[@<encoded tenant>:]<namespace>:<encoded id>``, see
# sessionkit.namespaces.keyspace), parsed here once for the namespaces and the log labels.
MAX_NAMESPACE_LENGTH = 64
NAMESPACE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
ENCODED_ID = re.compile(r"[A-Za-z0-9_.~%-]+")  # what the namespace id encoding can produce
TENANT_MARK = "@"
SEPARATOR = ":"


def validate_key(key: object) -> str:
    """Return ``key`` unchanged if it is a valid store key, else raise `InvalidKey`."""
    if type(key) is str and 0 < len(key) <= MAX_KEY_LENGTH and _VALID.fullmatch(key):
        return key  # the fast path: one C-level match
    return _reject(key, allow_empty=False)


def validate_prefix(prefix: object) -> str:
    """Like `validate_key`, but the empty prefix (meaning "every key") is allowed."""
    if type(prefix) is str and len(prefix) <= MAX_KEY_LENGTH and _VALID.fullmatch(prefix):
        return prefix
    return _reject(prefix, allow_empty=True)


def validate_keys(keys: Iterable[object]) -> list[str]:
    """Validate every key first, so that a batch with one bad key writes nothing.

    ``keys`` must be a collection of keys: a ``str`` or ``bytes`` (which would iterate as
    one-character keys), ``None`` or anything not iterable raises `InvalidKey`.
    """
    return [validate_key(key) for key in key_list(keys)]


def key_list(keys: object) -> list[object]:
    """``keys`` as a list, if it is a collection of keys (the keys themselves unchecked).

    Raises `InvalidKey` for a ``str``, ``bytes``, ``None`` or anything not iterable: a
    string passed where a list of keys belongs would otherwise read its characters.
    """
    if isinstance(keys, (str, bytes, bytearray, memoryview)) or not isinstance(keys, Iterable):
        raise InvalidKey(
            f"keys are given as a collection of str (a list, a set), not {type(keys).__name__}:"
            f" {keys!r:.80}"
        )
    return list(keys)


def _reject(key: object, *, allow_empty: bool) -> str:
    if not isinstance(key, str):
        raise InvalidKey(f"keys are str, not {type(key).__name__}: {key!r}")
    if not key and not allow_empty:
        raise InvalidKey(f"key is empty ({_RULE})")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"key is {len(key)} characters long, over {MAX_KEY_LENGTH} ({_RULE})")
    bad = _INVALID_CHAR.search(key)
    assert bad is not None  # the fast path failed for one of the reasons above or this one
    raise InvalidKey(
        f"key {key!r} has a character that is not allowed at index {bad.start()}: "
        f"{bad.group()!r} ({_RULE})"
    )


def split_key(key: str) -> tuple[str | None, str | None, int]:
    """``(encoded tenant, namespace, length of the namespace prefix)`` of a key or prefix,
    as far as it names them (``None`` and ``0`` for what it does not).

    Cheap (two partitions and a match): it runs on every observed operation.

    ```pycon
    >>> split_key("@acme:templates:4f1c"), split_key("templates:4f1c")
    (('acme', 'templates', 16), (None, 'templates', 10))
    >>> split_key("@acme:x"), split_key("loose-key"), split_key("~aiogram:1")
    (('acme', None, 0), (None, None, 0), (None, None, 0))

    ```
    """
    encoded_tenant: str | None = None
    rest = key
    if key.startswith(TENANT_MARK):
        encoded_tenant, separator, rest = key[1:].partition(SEPARATOR)
        if not separator or not ENCODED_ID.fullmatch(encoded_tenant):
            return None, None, 0
    namespace, separator, _ = rest.partition(SEPARATOR)
    if (
        not separator
        or len(namespace) > MAX_NAMESPACE_LENGTH
        or not NAMESPACE_NAME.fullmatch(namespace)
    ):
        return encoded_tenant, None, 0
    return encoded_tenant, namespace, len(key) - len(rest) + len(namespace) + 1
