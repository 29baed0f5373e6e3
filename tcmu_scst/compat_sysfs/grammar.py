"""SCST's mgmt grammar: how a line written to a ``mgmt`` file becomes words and parameters.

Words are separated by whitespace *or* ``=`` (so ``filename=/x``, ``filename /x`` and
``filename = /x`` are the same, and no value can hold a space or ``=``); the parameter tail
is split on ``;`` or newline, and an empty segment silently ends it, as SCST's own lexer does.
Keywords compare case-insensitively, object names exactly.  Numbers use C's base rules
(``0x`` hex, leading ``0`` octal), as the kernel's ``kstrto*`` with base 0 does.
"""

from __future__ import annotations

import errno
import re

_WORD = re.compile(r"[^\s=]+")
_SEPARATORS = re.compile(r"[;\n]")


def invalid(message: str) -> OSError:
    return OSError(errno.EINVAL, message)


def words(text: str) -> list[str]:
    """Every word of ``text`` (whitespace and ``=`` separate words)."""
    return _WORD.findall(text)


def split_command(text: str) -> tuple[str, str]:
    """The first word (lower-cased keyword) and the rest of the line after it."""
    match = _WORD.search(text)
    if match is None:
        raise invalid("empty command: read this mgmt file for its usage")
    return match.group().lower(), text[match.end():]


def next_word(text: str) -> tuple[str | None, str]:
    """The next word of ``text`` and what follows it (None when there is none)."""
    match = _WORD.search(text)
    if match is None:
        return None, ""
    return match.group(), text[match.end():]


def parameters(text: str) -> list[tuple[str, str]]:
    """``name=value; name=value`` pairs, names lower-cased, in order.

    A segment with a name and no value, or with more than one value, is refused with the
    reason; an empty segment ends the list (SCST ignores what follows it).
    """
    pairs: list[tuple[str, str]] = []
    for segment in _SEPARATORS.split(text):
        parts = words(segment)
        if not parts:
            break
        name = parts[0].lower()
        if len(parts) == 1:
            raise invalid(f"parameter {name!r}: value missed (write {name}=VALUE)")
        if len(parts) > 2:
            raise invalid(f"parameter {name!r}: too many values ({' '.join(parts[1:])}); "
                          "values cannot contain spaces")
        pairs.append((name, parts[1]))
    return pairs


def c_integer(text: str, what: str) -> int:
    """An integer in C's notation (decimal, 0x hex, 0 octal), as kstrtoll with base 0."""
    value = text.strip()
    sign = -1 if value.startswith("-") else 1
    digits = value.lstrip("+-")
    try:
        if digits.lower().startswith("0x"):
            number = int(digits[2:], 16)
        elif len(digits) > 1 and digits.startswith("0"):
            number = int(digits[1:], 8)
        else:
            number = int(digits, 10)
    except ValueError:
        raise invalid(f"{what}: {text.strip()!r} is not a number") from None
    return sign * number
