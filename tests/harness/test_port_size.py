"""Every ISA port under arch/ instantiates a template and stays within its goal (fixed-width 60
lines of its own, vector-length agnostic 120); the line counter skips comments."""

from __future__ import annotations

import pytest

from small_harness.build.port_size import PORTABLE, TEMPLATE_GOALS, code_lines, port_sizes, template_sizes


@pytest.mark.parametrize("port", port_sizes(), ids=lambda p: p.isa)
def test_port_within_its_goal(port) -> None:  # type: ignore[no-untyped-def]
    if port.isa == PORTABLE:
        return
    assert port.template in TEMPLATE_GOALS, f"arch/{port.isa} includes no template of arch/template/"
    assert port.within_goal, f"arch/{port.isa}: {port.lines} lines of C, goal {port.goal} ({port.template})"


def test_templates_are_counted_apart_and_used() -> None:
    for template in template_sizes():
        assert template.lines > 100 and template.users, template


def test_code_lines_skip_blanks_and_comments() -> None:
    source = "/* a\n   block */\nint x; // trailing\n\n// whole line\nint y; /* inline */ int z;\n"
    assert code_lines(source) == 2
