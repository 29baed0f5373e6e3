"""Parsers that turn SCST's parameter text into the values a handler's ``create`` gets.

A parser is ``parse(name, text) -> value`` and raises OSError(EINVAL) with a message that
says what would be right, as SCST's mgmt writes fail.  Each :class:`~.declaration.Param`
names its parser, so a value is checked the same way whether it comes from ``add_device``,
a saved configuration or the worker's spec.  Light on purpose: the management layer and
every worker import it.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

Parser = Callable[[str, str], object]
MIN_BLOCK_SIZE = 512


def invalid(message: str) -> OSError:
    return OSError(errno.EINVAL, message)


def as_text(name: str, text: str) -> str:
    """The text as given."""
    return text


def whole_number(name: str, text: str) -> int:
    """A number in any of Python's integer notations (SCST's kstrtol with base 0)."""
    try:
        return int(text.strip(), 0)
    except ValueError:
        raise invalid(f"{name}={text.strip()!r} is not a number") from None


def one_bit(name: str, text: str) -> bool:
    """SCST's one-bit fields: only the lowest bit of the number counts (``2`` is off)."""
    return bool(whole_number(name, text) & 1)


def one_of(*allowed: int) -> Parser:
    """A number that must be one of ``allowed``."""
    def parse(name: str, text: str) -> int:
        value = whole_number(name, text)
        if value not in allowed:
            raise invalid(f"{name}={value}: use {' or '.join(str(a) for a in allowed)}")
        return value
    return parse


def at_least(minimum: int) -> Parser:
    """A number no smaller than ``minimum``."""
    def parse(name: str, text: str) -> int:
        value = whole_number(name, text)
        if value < minimum:
            raise invalid(f"{name}={value}: give at least {minimum}")
        return value
    return parse


def at_most_characters(limit: int) -> Parser:
    """Text of at most ``limit`` characters (INQUIRY fields)."""
    def parse(name: str, text: str) -> str:
        if len(text) > limit:
            raise invalid(f"{name} is longer than {limit} characters")
        return text
    return parse


def absolute_path(name: str, text: str) -> str:
    if not text.startswith("/"):
        raise invalid(f"{name} {text!r} must be an absolute path")
    return text


def block_size_bytes(name: str, text: str) -> int:
    """SCST's rule: bytes, 0 means 512, below 512 refused, other values rounded down to a
    power of two (SCST warns; so do we)."""
    value = whole_number(name, text)
    if value == 0:
        return MIN_BLOCK_SIZE
    if value < MIN_BLOCK_SIZE:
        raise invalid(f"{name}={value} is too small: give bytes, a power of two of at "
                      f"least {MIN_BLOCK_SIZE} (512, 1024, 2048, 4096, ...)")
    rounded = 1 << (value.bit_length() - 1)
    if rounded != value:
        log.warning("%s=%d is not a power of two; using %d", name, value, rounded)
    return rounded
