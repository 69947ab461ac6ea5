"""`invoke toolchain.*`: install and check the host's toolchains, make the offline Docker base image,
and regenerate the committed CMake toolchain files."""

from __future__ import annotations

from small_harness.core.paths import relative
from small_harness.generate.cmake_toolchain import write_committed_toolchains
from small_harness.targets.registry import load_targets, resolve_targets
from small_harness.toolchain.docker.bootstrap import bootstrap_base_image
from small_harness.toolchain.docker.engine import connect
from small_harness.toolchain.host import (check_host_toolchain, describe_toolchain, install_host_toolchain,
                                         no_host_toolchain)


def install(arch: str) -> None:
    targets = [] if arch == "none" else resolve_targets(arch)
    for target in targets:
        if target.host_unavailable:
            print(f"skipped {no_host_toolchain(target)}", flush=True)  # before apt-get's own output
    installed, left_out = install_host_toolchain(targets)
    print(f"installed: {' '.join(installed)}" if installed else "nothing to install: all packages present")
    for target in targets:
        if not target.host_unavailable and target not in left_out:
            check_host_toolchain(target)


def check(arch: str) -> None:
    for target in resolve_targets(arch):
        if target.host_unavailable and len(resolve_targets(arch)) > 1:
            print(f"skipped {no_host_toolchain(target)}")
            continue
        check_host_toolchain(target)
        print(describe_toolchain(target))


def bootstrap() -> None:
    bootstrap_base_image(connect())


def regenerate_cmake() -> None:
    changed = write_committed_toolchains(list(load_targets(release=None).values()))
    for path in changed:
        print(f"wrote {relative(path)}")
    if not changed:
        print("toolchains/*.cmake are up to date")
