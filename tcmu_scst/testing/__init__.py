"""Test doubles: stand-ins for the kernel and for LIO, for running without either.

These are doubles for the unit tests and for benchmarks on the host, which run without a
kernel.  Production code (the daemon, the workers, the tools, the shell, the demo, which runs
on a real kernel or in the VM) never imports them: ``tests/unit/test_testing_boundary.py``
walks the production packages and fails on any import of this package outside its
allow-list.

* :mod:`.lio`: an in-memory configfs behaving like LIO on Debian 12's kernel, kept honest
  by ``tests/system/test_lio_vm.py``, which runs the same scenario on the real kernel
  (:mod:`.lio.conformance`, also run in the test VM) and compares every outcome;
* :mod:`.ring_emulator`: the kernel's side of a TCMU ring (``RingEmulator``), same memory
  layout, for the data plane's tests and ``bench/ring``;
* :mod:`.recording_realizer`: a realizer that records what the SCST model asks of LIO.

They live in the installed package, not under ``tests/``, because the VM runs
:mod:`.lio.conformance` from the installed tree and the bench scripts import them too.
"""
