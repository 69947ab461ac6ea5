"""Every ISA port under arch/ stays within its line budget; the line counter skips comments."""

from __future__ import annotations

import pytest

from small_harness.port_size import LINE_BUDGET, code_lines, port_sizes


@pytest.mark.parametrize("port", port_sizes(), ids=lambda p: p.isa)
def test_port_within_line_budget(port) -> None:  # type: ignore[no-untyped-def]
    assert port.within_budget, f"arch/{port.isa}: {port.lines} lines of C, budget {LINE_BUDGET}"


def test_code_lines_skip_blanks_and_comments() -> None:
    source = "/* a\n   block */\nint x; // trailing\n\n// whole line\nint y; /* inline */ int z;\n"
    assert code_lines(source) == 2
