"""What one write to a file of the tree may carry: exactly one complete command.

SCST's sysfs hands a store function one write(2) call of at most one page, and the command
parser works on that page as a C string: so one write is one command of at most a page minus
one byte (its terminating NUL).  Taking more here would let one write run several commands (a
long padding, a newline, then ``del_device disk1``), and a command longer than that split by
the writer's buffer would run in pieces (the first piece creating a device without its last
parameters).  So a write is refused whole, with nothing of it executed, unless it is

* at most :data:`MAX_COMMAND_BYTES` bytes,
* one line: a newline only as its last character,
* printable text: no NUL or other control character (a tab or carriage return included),
  no line separator and no unpaired surrogate, which would end up inside a name or value
  that then shows up in the tree, in listings and in the saved configuration,
* the first write on its open file, at offset 0 (a later one is the rest of a command that
  was too long, or a second command).

The FUSE front end checks the last rule and the size (before decoding anything); the tree
checks the text for every front end.
"""

from __future__ import annotations

import unicodedata

from .grammar import invalid

MAX_COMMAND_BYTES = 4095  # SCST's page (4096 bytes) minus the NUL that ends the command
ONE_COMMAND = f"one command per write, at most {MAX_COMMAND_BYTES} bytes"
# Unicode categories refused anywhere in a command: controls, unpaired surrogates (which
# cannot be encoded for a reader) and the line and paragraph separators
UNPRINTABLE = frozenset({"Cc", "Cs", "Zl", "Zp"})


def check_size(size: int) -> None:
    if size > MAX_COMMAND_BYTES:
        raise invalid(f"{size} bytes in one write: {ONE_COMMAND}")


def check_write_call(offset: int, earlier_writes: int, size: int) -> None:
    """A write(2) on an open file: only its first, at offset 0, and not too long."""
    if offset != 0 or earlier_writes:
        raise invalid(f"a further write on the same open file (at offset {offset}): "
                      f"{ONE_COMMAND}; open the file again for each command")
    check_size(size)


def check_command(text: str) -> None:
    """The text of one write: one line of printable text, short enough."""
    if len(text) > MAX_COMMAND_BYTES:  # characters never outnumber the bytes
        check_size(len(text))
    check_size(len(text.encode("utf-8", "surrogatepass")))
    line = text.removesuffix("\n")
    if "\n" in line:
        raise invalid(f"more than one line in one write: {ONE_COMMAND}, ended by at most "
                      "one newline")
    for position, character in enumerate(line):
        if unicodedata.category(character) in UNPRINTABLE:
            raise invalid(f"control character U+{ord(character):04X} at position {position}: "
                          "commands, names and values are printable text; remove it")
