"""Showing what users gave us, safely: every error that repeats input (a manifest key, an
event field, a CLI argument) goes through here, so a message is always one printable line.

A terminal prints whatever control characters a value carries, and a newline would split one
error into several: both are escaped, and long values are cut with an ellipsis.
"""

from __future__ import annotations

VALUE_LIMIT = 60  # characters of one echoed value
MESSAGE_LIMIT = 400  # characters of a whole message


def _escape(char: str) -> str:
    if char.isprintable():
        return char
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown(value: object, limit: int = VALUE_LIMIT) -> str:
    """One user-given value as it may appear inside a message: non-printable characters
    escaped (\\n, \\x1b, \\u2028 ...), cut to `limit` characters."""
    return _cut("".join(_escape(c) for c in str(value)), limit)


def one_line(message: object, limit: int = MESSAGE_LIMIT) -> str:
    """A whole message made safe to print: the same escaping, cut to `limit` characters."""
    return shown(message, limit)
