"""The host backend's toolchain: is it installed, install it with apt-get, describe it."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

from small_harness.core.errors import HarnessError, MissingToolError
from small_harness.targets.toml_file import DEFAULT_BACKEND
from small_harness.targets.types import Target
from small_harness.core.tools import apt_install_command, apt_missing, declared_tools, missing_tool_packages

# Programs every build runs, whatever the target (declared in small_harness/core/tools.toml).
BUILD_TOOLS = ("cmake", "ctest", "ninja")


def _require_host_backend(target: Target) -> None:
    if target.backend != DEFAULT_BACKEND:
        raise HarnessError(f"{target.name}: loaded for the {target.backend} backend, not the host")


def no_host_toolchain(target: Target) -> str:
    """One line for a target whose host toolchain this Debian release lacks ([host.<release>] unavailable),
    naming its route; "" for any other target."""
    if not target.host_unavailable:
        return ""
    return (f"{target.name}: no host toolchain here: {target.host_unavailable}; it builds and runs with the "
            f"Docker toolchain: --toolchain docker (docs/TOOLCHAINS.md)")


def _missing_items(target: Target) -> tuple[list[str], list[str]]:
    """What is missing on this machine for `target`, and the packages that would provide it."""
    missing: list[str] = []
    packages: list[str] = []

    def need(item: str, item_packages: tuple[str, ...]) -> None:
        missing.append(item)
        packages.extend(p for p in item_packages if p not in packages)

    tools = declared_tools()
    for program in BUILD_TOOLS:
        if shutil.which(program) is None:
            need(program, (tools[program].package,))
    # The disassembler comes with the compiler's binutils.
    objdump = (target.elf.objdump,) if target.elf.objdump else ()
    for program in (target.compiler.cc, *target.compiler.helper_programs, *objdump):
        if shutil.which(program) is None:
            need(program, target.packages.compiler)
    sysroot = target.compiler.sysroot
    # The bare directory can exist from binutils alone; stdio.h shows the libc headers are there.
    if sysroot and not (Path(sysroot) / "include" / "stdio.h").is_file():
        need(f"sysroot {sysroot}", target.packages.sysroot)
    if target.emulator is not None and shutil.which(target.emulator.binary) is None:
        need(target.emulator.binary, target.packages.emulator)
    return missing, packages


def check_host_toolchain(target: Target) -> None:
    """Raise MissingToolError (one line, with the apt-get command) if anything is missing."""
    _require_host_backend(target)
    if target.host_unavailable:
        raise MissingToolError(no_host_toolchain(target))
    if target.is_native and platform.machine() != target.system_processor:
        raise MissingToolError(
            f"{target.name}: runs natively, without an emulator, but this host is {platform.machine()}"
        )
    missing, packages = _missing_items(target)
    if missing:
        pronoun = "it" if len(missing) == 1 else "them"
        raise MissingToolError(
            f"{target.name}: {', '.join(missing)} not found; install {pronoun} with: {apt_install_command(packages)}"
        )


def _installed(package: str) -> bool:
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
    )
    return result.returncode == 0 and result.stdout.strip() == "install ok installed"


def packages_to_install(targets: list[Target]) -> list[str]:
    """The Debian packages that are missing for the harness's own programs (small_harness/core/tools.toml,
    checked by program, so one from elsewhere counts) and for the targets' toolchains (but those this
    release has none of: no_host_toolchain)."""
    to_install = missing_tool_packages()
    for target in targets:
        _require_host_backend(target)
        if not target.host_unavailable:
            to_install += [p for p in target.packages.all() if p not in to_install and not _installed(p)]
    return to_install


def apt_lacks(targets: list[Target]) -> list[tuple[Target, list[str]]]:
    """The targets (but those declared unavailable here) with packages this machine's apt does not know,
    and those packages; [] when apt cannot tell (core/tools.py: apt_missing)."""
    candidates = [target for target in targets if not target.host_unavailable]
    unknown = set(apt_missing([p for target in candidates for p in target.packages.all()]) or ())
    found = [(target, [p for p in target.packages.all() if p in unknown]) for target in candidates]
    return [(target, missing) for target, missing in found if missing]


def install_host_toolchain(targets: list[Target]) -> tuple[list[str], list[Target]]:
    """apt-get install what the harness and the targets need and is not installed yet; returns those
    packages, and the targets left out because this release's apt has not heard of some of their packages
    (a release no [host.<release>] table describes yet, as Ubuntu's): each is named in one line with its
    route, Docker. Nothing is run when everything is installed, so this also works offline."""
    if shutil.which("dpkg-query") is None or shutil.which("apt-get") is None:
        raise HarnessError("installing needs a Debian-based host with apt-get")
    to_install = packages_to_install(targets)
    if not to_install:
        return [], []
    if os.geteuid() != 0:
        raise HarnessError(f"installing needs root; run: sudo apt-get update && {apt_install_command(to_install)}")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(["apt-get", "update"], env=environment, check=False).returncode != 0:
        raise HarnessError("apt-get update failed (its output is above)")
    lacking = apt_lacks(targets)
    left_out = [target for target, _ in lacking]
    for target, missing in lacking:
        print(f"skipped {target.name}: this release's apt has no {', '.join(missing)}; it builds and runs with the "
              "Docker toolchain: --toolchain docker (or declare [host.<release>] unavailable in its TOML)", flush=True)
    if left_out:
        to_install = packages_to_install([target for target in targets if target not in left_out])
    argv = ["apt-get", "install", "-y", "--no-install-recommends", *to_install]
    if to_install and subprocess.run(argv, env=environment, check=False).returncode != 0:
        raise HarnessError(f"{' '.join(argv)} failed (its output is above)")
    return to_install, left_out


def _first_version_line(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        return f"{program}: not found"
    try:
        result = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"{path}: --version failed: {error}"
    lines = (result.stdout or result.stderr).strip().splitlines()
    return f"{path}: {lines[0] if lines else '(no --version output)'}"


def describe_toolchain(target: Target) -> str:
    """Which compiler and emulator a target uses, with versions, for test and build logs."""
    lines = [
        f"{target.name} ({target.backend}): {target.description}",
        f"  compiler: {' '.join(target.compiler_command())}",
        f"            {_first_version_line(target.compiler.cc)}",
    ]
    if target.emulator is None:
        lines.append("  emulator: none (runs natively)")
    else:
        lines += [
            f"  emulator: {' '.join(target.emulator_command())}",
            f"            {_first_version_line(target.emulator.binary)}",
        ]
    return "\n".join(lines)
