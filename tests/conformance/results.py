"""Reading libiscsi's iscsi-test-cu verbose output (used by ``tests/conformance/run``)."""

from __future__ import annotations

import re

TEST_LINE = re.compile(r"^\s*Test: (\S+) \.\.\.(.*)$")
SUITE_LINE = re.compile(r"^Suite: (\S+)")
STATUS = {"passed": "passed", "FAILED": "failed"}


def parse_results(text: str) -> dict[str, str]:
    """Test name → passed / failed / skipped from iscsi-test-cu's verbose output.

    CUnit prints ``Test: NAME ...``, the test's own messages, then ``passed`` or ``FAILED``
    (on the same line when the test printed nothing, and sometimes followed on that line by
    what the next test prints).  libiscsi reports a skipped test as
    passed after a ``[SKIPPED]`` message; that message is what tells the two apart.
    """
    results: dict[str, str] = {}
    suite = current = ""
    skipped = False
    for raw_line in text.splitlines():
        suite_match = SUITE_LINE.match(raw_line)
        if suite_match:
            suite = suite_match.group(1)
            continue
        line = raw_line
        test_match = TEST_LINE.match(raw_line)
        if test_match:
            current = f"{suite}.{test_match.group(1)}"
            line = test_match.group(2)
            skipped = False
        if not current:
            continue
        words = line.split(maxsplit=1)
        status = STATUS.get(words[0]) if words else None
        skipped = skipped or "[SKIPPED]" in (line if status is None else "")
        if status:
            results[current] = "skipped" if status == "passed" and skipped else status
            current = ""
    return results
