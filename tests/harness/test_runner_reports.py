"""How the harness names a runner's end: signals by name (also through docker exec and shells, as
128 + N), sanitizer reports by their first line; and a stopped process is a timeout, not a hang."""

from __future__ import annotations

import sys
import time

import pytest

from small_harness.runner.client import Runner, RunnerTimeout, describe_exit, sanitizer_finding


@pytest.mark.parametrize("code,expected", [(-11, "SIGSEGV (exit -11)"), (139, "SIGSEGV (exit 139)"),
                                           (-6, "SIGABRT (exit -6)"), (1, "exit 1"), (2, "exit 2"),
                                           (None, "still running")])
def test_exit_codes_are_named(code: int | None, expected: str) -> None:
    assert describe_exit(code) == expected


def test_sanitizer_reports_are_found_by_their_first_line() -> None:
    asan = "==1==WARNING: x\n==1==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x1\n  #0 0x2 in f\n"
    ubsan = "lib/src/nest.c:10:5: runtime error: signed integer overflow: 2147483647 + 1\n"
    assert sanitizer_finding(asan) == "==1==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x1"
    assert sanitizer_finding(ubsan).endswith("runtime error: signed integer overflow: 2147483647 + 1")
    assert sanitizer_finding("plain output\n") == ""


def test_a_process_that_never_answers_is_a_timeout_within_the_deadline(tmp_path: object) -> None:
    """Any command works as a runner here: this one reads its request and then sleeps."""
    runner = Runner([sys.executable, "-c", "import sys, time; sys.stdin.buffer.read(8); time.sleep(60)"],
                    deadline_s=1.0)
    started = time.monotonic()
    with pytest.raises(RunnerTimeout, match=r"timed out after 1 s without a reply in info"):
        runner.info()
    assert time.monotonic() - started < 5
    runner.close(check=False)
