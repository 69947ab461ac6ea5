"""Host toolchain checks: one-line messages for what is missing, naming the package. On the
fixture target, edited to name programs and paths that do not exist."""

from __future__ import annotations

import dataclasses
import platform
from pathlib import Path

import pytest

from small_harness.core.errors import MissingToolError
from small_harness.core.tools import apt_missing
from small_harness.toolchain.host import apt_lacks, check_host_toolchain
from small_harness.targets.toml_file import load_target
from small_harness.targets.registry import load_targets

EXAMPLE = load_target(Path(__file__).parent / "data" / "toolchains" / "example-rv.toml", release=None)


def test_missing_emulator_is_one_line_with_its_package() -> None:
    assert EXAMPLE.emulator is not None
    broken = dataclasses.replace(EXAMPLE, emulator=dataclasses.replace(EXAMPLE.emulator, binary="qemu-riscv64-absent"))
    with pytest.raises(MissingToolError) as caught:
        check_host_toolchain(broken)
    message = str(caught.value)
    assert "\n" not in message
    assert "qemu-riscv64-absent not found; install" in message
    assert message.endswith("apt-get install -y qemu-user") or "qemu-user" in message.split("apt-get install -y ")[1]


def test_missing_compiler_names_the_compiler_packages() -> None:
    broken = dataclasses.replace(EXAMPLE, compiler=dataclasses.replace(EXAMPLE.compiler, cc="clang-absent"))
    with pytest.raises(MissingToolError, match=r"^example-rv: .*clang-absent.* not found; .*apt-get install -y "
                                               r"clang-16 gcc-riscv64-linux-gnu"):
        check_host_toolchain(broken)


def test_missing_objdump_names_the_compiler_packages() -> None:
    broken = dataclasses.replace(EXAMPLE, elf=dataclasses.replace(EXAMPLE.elf, objdump="objdump-absent"))
    with pytest.raises(MissingToolError, match=r"objdump-absent.* not found; .*gcc-riscv64-linux-gnu"):
        check_host_toolchain(broken)


def test_missing_sysroot_names_the_libc_dev_package() -> None:
    broken = dataclasses.replace(EXAMPLE, compiler=dataclasses.replace(EXAMPLE.compiler, sysroot="/nonexistent/rv"))
    with pytest.raises(MissingToolError, match=r"sysroot /nonexistent/rv.* not found; .*libc6-dev-riscv64-cross"):
        check_host_toolchain(broken)


def test_native_target_needs_a_matching_host() -> None:
    native = [t for t in load_targets().values() if t.is_native]
    if not native:
        pytest.skip("no native target is declared")
    broken = dataclasses.replace(native[0], system_processor="sparc64")
    with pytest.raises(MissingToolError, match=f"runs natively, without an emulator, but this host is {platform.machine()}"):
        check_host_toolchain(broken)


def test_a_target_whose_packages_apt_does_not_know_is_left_out_of_the_install() -> None:
    """On a release no [host.<release>] table describes (Ubuntu's, say), a target whose packages this
    apt lacks is named and left to Docker instead of failing apt-get install for every target."""
    targets = list(load_targets().values())
    if apt_missing(["libc6"]) is None:
        pytest.skip("this machine's apt cannot tell (no apt-cache, or no package lists)")
    known = [t for t in targets if not t.host_unavailable]
    stranger = dataclasses.replace(known[0], packages=dataclasses.replace(
        known[0].packages, compiler=(*known[0].packages.compiler, "no-such-package-small-test")))
    assert apt_lacks([stranger, *known[1:]])[:1] == [(stranger, ["no-such-package-small-test"])]
