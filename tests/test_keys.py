from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionkit import MAX_KEY_LENGTH, InvalidKey, validate_key
from sessionkit.keys import validate_prefix

VISIBLE_ASCII = "".join(chr(c) for c in range(0x21, 0x7F))


def test_every_visible_ascii_character_is_allowed() -> None:
    assert validate_key(VISIBLE_ASCII) == VISIBLE_ASCII


@given(st.text(alphabet=VISIBLE_ASCII, min_size=1, max_size=MAX_KEY_LENGTH))
def test_valid_keys_come_back_unchanged(key: str) -> None:
    assert validate_key(key) is key


@given(st.text(min_size=1).filter(lambda k: any(c not in VISIBLE_ASCII for c in k)))
def test_anything_else_is_rejected_never_mangled(key: str) -> None:
    with pytest.raises(InvalidKey, match="not allowed at index"):
        validate_key(key)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "empty"),
        ("x" * (MAX_KEY_LENGTH + 1), "257 characters long"),
        ("a b", "index 1: ' '"),
        ("ok\x7f", "index 2"),
        (b"bytes", "keys are str, not bytes"),
        (None, "keys are str, not NoneType"),
    ],
)
def test_errors_say_what_is_wrong(key: object, message: str) -> None:
    with pytest.raises(InvalidKey, match=None) as raised:
        validate_key(key)
    assert message in str(raised.value)


def test_the_empty_prefix_means_everything() -> None:
    assert validate_prefix("") == ""
    with pytest.raises(InvalidKey):
        validate_prefix(string.whitespace)
