"""What a saveconfig conversion hands back: the converted document with its losses, or an error.

Neither direction is lossless, and an administrator has to see what was lost; so each result
carries its ``warnings`` (one line each, starting with the tree path or the JSON path of the
item) while still being the plain dict or str the caller writes out.  A document that cannot
be converted at all raises :class:`SaveconfigError` naming the offending item.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any


class SaveconfigError(ValueError):
    """A document (or tree) that cannot be converted; ``path`` names the offending item."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class SaveconfigDocument(dict):  # type: ignore[type-arg]
    """An exported saveconfig.json document, with what the export could not express."""

    def __init__(self, content: Mapping[str, Any], warnings: Iterable[str] = ()):
        super().__init__(content)
        self.warnings: list[str] = list(warnings)


class ScstConfText(str):
    """scst.conf text made by an import, with what the import could not express."""

    warnings: list[str]

    def __new__(cls, text: str, warnings: Iterable[str] = ()) -> ScstConfText:
        made = super().__new__(cls, text)
        made.warnings = list(warnings)
        return made


# How a part of a conversion reports a loss: the item's path, then what happened to it.
Warn = Callable[[str, str], None]
