"""cffi build script for ``tcmu_scst.uio._ring_abi`` (run at install time by setuptools).

The C lives in ``csrc/``: ``ring_abi.c`` holds the ring layout and the compiled helpers
(ordered index accessors, ``ring_scan``/``ring_respond`` with the fast lane, ``ring_watch``;
its opening comment says why each is in C), ``ring_abi_cdef.h`` what Python may call, in
cffi's declaration dialect.  Here they are only put together.

The generated module includes ``ring_abi.c`` rather than pasting its text, so the compiler's
messages name the real file and line.  Because the generated C then no longer changes when
``ring_abi.c`` does, every file in ``csrc/`` is a declared dependency of the extension:
setuptools rebuilds it whenever one of them is newer than the compiled module.
"""

from __future__ import annotations

from pathlib import Path

import cffi

CSRC = Path(__file__).resolve().parent / "csrc"
DECLARATIONS = (CSRC / "ring_abi_cdef.h").read_text(encoding="utf-8")

ffibuilder = cffi.FFI()
ffibuilder.cdef(DECLARATIONS)
ffibuilder.set_source(
    "tcmu_scst.uio._ring_abi",
    '#include "ring_abi.c"\n',
    include_dirs=[str(CSRC)],
    depends=[str(path) for path in sorted(CSRC.iterdir()) if path.suffix in {".c", ".h"}],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
