"""small_harness/core/tools.toml: every program the harness runs outside a target toolchain is declared
with its package; an undeclared one is a harness bug, a missing one names its apt-get command."""

from __future__ import annotations

import pytest

from small_harness.core.errors import HarnessError, MissingToolError
from small_harness.core.tools import declared_tools, missing_tool_packages, program


def test_declared_tools_name_a_package_and_a_reason() -> None:
    tools = declared_tools()
    assert {"cmake", "ctest", "ninja", "docker", "debootstrap", "git"} <= set(tools)
    for tool in tools.values():
        assert tool.package and tool.why


def test_an_undeclared_program_is_refused() -> None:
    with pytest.raises(HarnessError, match="'rsync', which small_harness/core/tools.toml does not declare"):
        program("rsync")


def test_a_missing_program_names_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(MissingToolError, match=r"^llvm-ar not found \(.*\); install it with: .*apt-get install -y llvm$"):
        program("llvm-ar")
    assert "llvm" in missing_tool_packages(["llvm-ar"])


def test_every_declared_program_is_installed_here() -> None:
    """ci/setup.sh (invoke toolchain.install) installs them: a missing one is a setup bug."""
    assert missing_tool_packages() == []
