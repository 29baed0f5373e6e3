"""Parsing iscsi-test-cu's verbose output into passed / failed / skipped."""

from tests.conformance.results import parse_results

SAMPLE = """\
Suite: CompareAndWrite
  Test: Simple ...    [SKIPPED] COMPAREANDWRITE is not implemented.
    [SKIPPED] COMPAREANDWRITE is not implemented.
passed
Suite: Inquiry
  Test: EVPD ...passed
  Test: BlockLimits ...    [FAILED] INQUIRY command failed with status 2
    [FAILURE] failed to send inquiry.
FAILED
    1. test_inquiry_block_limits.c:55  - CU_ASSERT_EQUAL(ret,0)
Suite: Reserve6
  Test: LUNReset ...passed    [FAILED] PRIN command: failed with sense.
  Test: Logout ...    Take out a RESERVE6
passed
"""


def test_statuses_are_read_per_suite_and_test() -> None:
    assert parse_results(SAMPLE) == {
        "CompareAndWrite.Simple": "skipped",
        "Inquiry.EVPD": "passed",
        "Inquiry.BlockLimits": "failed",
        "Reserve6.LUNReset": "passed",
        "Reserve6.Logout": "passed",
    }
