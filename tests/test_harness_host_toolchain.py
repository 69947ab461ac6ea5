"""Host toolchain checks: real tools on this machine, and one-line messages for missing ones."""

from __future__ import annotations

import dataclasses

import pytest
from harness_fixtures import host_target

from small_harness.errors import MissingToolError
from small_harness.host_toolchain import check_host_toolchain, describe_toolchain, install_host_toolchain
from small_harness.targets import load_targets


@pytest.mark.parametrize("name", sorted(load_targets()))
def test_declared_toolchains_are_installed_here(name: str) -> None:
    check_host_toolchain(host_target(name))


def test_missing_emulator_is_one_line_with_its_package() -> None:
    target = host_target("riscv64")
    assert target.emulator is not None
    broken = dataclasses.replace(target, emulator=dataclasses.replace(target.emulator, binary="qemu-riscv64-absent"))
    with pytest.raises(MissingToolError) as caught:
        check_host_toolchain(broken)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("riscv64: qemu-riscv64-absent not found; install it with: ")
    assert message.endswith("apt-get install -y qemu-user")


def test_missing_compiler_names_the_compiler_packages() -> None:
    target = host_target("riscv64")
    broken = dataclasses.replace(target, compiler=dataclasses.replace(target.compiler, cc="clang-absent"))
    with pytest.raises(MissingToolError, match=r"^riscv64: clang-absent not found; .*apt-get install -y "
                                               r"clang-16 gcc-riscv64-linux-gnu$"):
        check_host_toolchain(broken)


def test_missing_sysroot_names_the_libc_dev_package() -> None:
    target = host_target("armv7")
    broken = dataclasses.replace(target, compiler=dataclasses.replace(target.compiler, sysroot="/nonexistent/armhf"))
    with pytest.raises(MissingToolError, match=r"sysroot /nonexistent/armhf not found; .*libc6-dev-armhf-cross$"):
        check_host_toolchain(broken)


def test_native_target_needs_a_matching_host() -> None:
    broken = dataclasses.replace(host_target("x86_64"), system_processor="sparc64")
    with pytest.raises(MissingToolError, match="runs natively, without an emulator, but this host is"):
        check_host_toolchain(broken)


def test_describe_toolchain_shows_compiler_and_qemu_versions() -> None:
    text = describe_toolchain(host_target("riscv64"))
    assert "/clang-16: " in text and "clang version 16" in text
    assert "qemu-riscv64 -cpu rv64,v=true,vlen=128" in text
    assert "qemu-riscv64 version" in text


def test_describe_native_toolchain_has_no_emulator() -> None:
    assert "emulator: none (runs natively)" in describe_toolchain(host_target("x86_64"))


def test_install_runs_nothing_when_all_packages_are_present() -> None:
    # Every declared toolchain is installed here (see above), so no apt-get and no network.
    assert install_host_toolchain(list(load_targets().values())) == []
