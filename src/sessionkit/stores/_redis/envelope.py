"""The stored form of a session: one Redis string per key, ``sk1:<version>:s<stamp>:<json>``.

The version and the write stamp (whole microseconds since the epoch, see
`sessionkit.stamped`) live beside the value, so every script touches one key (one hash
slot in a cluster) and a plain ``GET`` returns value, version and stamp together. After a
merge the JSON is preceded by its fields' byte lengths
(``sk1:<version>:s<stamp>:<len>,<len>:{...}``), which the next merge uses instead of
scanning the JSON. Envelopes written before stamps (``sk1:<version>:<json>``) still read;
they hold no stamp, so any journaled write is newer.
"""

from __future__ import annotations

import re
from typing import Any

from ...codec import JSONCodec
from ...errors import CorruptValue

__all__ = [
    "MAGIC",
    "decode_value",
    "envelope",
    "envelope_stamp",
    "open_envelope",
    "patch_arguments",
]

MAGIC = b"sk1:"

# A version is 1 to 14 ASCII digits (Lua prints numbers with 14 significant digits); the
# scripts and open_envelope agree on that, so a value one of them calls ours the other does.
_MAX_VERSION_DIGITS = 14

# The field lengths a merge writes before the JSON.
_LENGTHS = re.compile(rb"\d+(?:,\d+)*")


def envelope(version: int, data: bytes, stamp: int) -> bytes:
    """The stored form of an encoded value (only ``create`` builds it client-side)."""
    return b"%b%d:s%d:%b" % (MAGIC, version, stamp, data)


def _stamp_end(raw: bytes, start: int) -> int:
    """The index of the ':' ending the ``s<stamp>`` that starts at ``start``, or -1; what
    the scripts' ``'^s(%-?%d+):'`` accepts (and open_envelope, inline)."""
    end = raw.find(b":", start + 1)
    digits = raw[start + 1 : end]
    if end > 0 and digits.removeprefix(b"-").isdigit():
        return end
    return -1


def envelope_stamp(raw: bytes) -> int | None:
    """The stamp in a stored string (None: an envelope from before stamps, or not ours)."""
    if raw.startswith(MAGIC):
        separator = raw.find(b":", 4)
        if raw[separator + 1 : separator + 2] == b"s":
            end = _stamp_end(raw, separator + 1)
            if end > 0:
                return int(raw[separator + 2 : end])
    return None


def open_envelope(raw: bytes, key: str) -> tuple[int, bytes]:
    """Split a stored string into (version, JSON bytes); anything else is CorruptValue.

    The stamp (``s<stamp>:``, absent in envelopes from before stamps) is skipped. After a
    merge the JSON is preceded by its fields' lengths (``sk1:<version>:s<stamp>:<lengths>:``),
    which the next merge uses instead of scanning the JSON.
    """
    if raw.startswith(MAGIC):
        separator = raw.find(b":", 4)
        if 4 < separator <= 4 + _MAX_VERSION_DIGITS:
            head = raw[4:separator]
            if head.isdigit():  # ASCII digits only: what the scripts' '^sk1:(%d+):' accepts
                start = separator + 1
                if raw[start : start + 1] == b"s":  # the stamp, inline: get's hot path
                    end = raw.find(b":", start + 1)
                    stamp = raw[start + 1 : end]
                    if end < 0 or not (
                        stamp.isdigit() or (stamp[:1] == b"-" and stamp[1:].isdigit())
                    ):
                        raise CorruptValue(key, "bad write stamp in the envelope")
                    start = end + 1
                if raw[start : start + 1] == b"{":
                    return int(head), raw[start:]
                lengths_end = raw.find(b":", start)  # after a merge: '<len>,<len>,...:'
                if lengths_end > 0 and _LENGTHS.fullmatch(raw, start, lengths_end):
                    return int(head), raw[lengths_end + 1 :]
    raise CorruptValue(key, "not written by sessionkit (no 'sk1:<version>:' envelope)")


def decode_value(codec: JSONCodec, raw: bytes, key: str) -> dict[str, Any]:
    """The value inside a stored string."""
    return codec.decode(open_envelope(raw, key)[1], key=key)


def patch_arguments(codec: JSONCodec, patch: dict[str, Any]) -> list[bytes]:
    """MERGE's arguments for a checked patch: (plain name, '"name":value') per field.

    Each field is encoded by the codec on its own, so the script never parses the patch.
    """
    arguments: list[bytes] = []
    for name, item in patch.items():
        field = codec.encode({name: item})[1:-1]  # SerializationError for a bad name or value
        arguments.append(name.encode())
        arguments.append(field)
    return arguments
