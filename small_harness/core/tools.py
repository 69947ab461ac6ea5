"""The programs the harness runs on this machine besides a target's toolchain, declared as data in
small_harness/core/tools.toml: what provides each, whether it is there, and how to get it."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from small_harness.core.errors import HarnessError, MissingToolError
from small_harness.targets.toml_file import host_release

TOOLS_FILE = Path(__file__).with_name("tools.toml")


@dataclass(frozen=True)
class Tool:
    program: str
    package: str  # the Debian package that provides it
    why: str


@functools.cache
def declared_tools() -> dict[str, Tool]:
    """The declared programs, with the package that provides each on this machine's release."""
    with TOOLS_FILE.open("rb") as stream:
        data = tomllib.load(stream)
    release = host_release()
    return {name: Tool(name, str(entry.get("release_packages", {}).get(release, entry["package"])), str(entry["why"]))
            for name, entry in data["programs"].items()}


def apt_install_command(packages: list[str]) -> str:
    sudo = "" if os.geteuid() == 0 else "sudo "
    return f"{sudo}apt-get install -y {' '.join(packages)}"


def apt_missing(packages: list[str]) -> list[str] | None:
    """Those of `packages` this machine's apt does not know (apt-cache pkgnames, one call), or None when
    it cannot tell: no apt-cache, or package lists that lack even libc6 (apt-get update never ran)."""
    if shutil.which("apt-cache") is None:
        return None
    listed = subprocess.run(["apt-cache", "pkgnames"], capture_output=True, text=True, check=False)
    known = set(listed.stdout.split())
    if listed.returncode != 0 or "libc6" not in known:
        return None
    return [package for package in packages if package not in known]


def program(name: str) -> str:
    """The path of a declared program; a MissingToolError naming its package when it is absent.
    An undeclared name is a harness bug: every program a task or test runs must be installable."""
    tool = declared_tools().get(name)
    if tool is None:
        raise HarnessError(f"the harness runs '{name}', which small_harness/core/tools.toml does not declare")
    path = shutil.which(name)
    if path is None:
        raise MissingToolError(f"{name} not found ({tool.why}); install it with: {apt_install_command([tool.package])}")
    return path


def missing_tool_packages(names: list[str] | None = None) -> list[str]:
    """Packages of the declared programs (all, or those named) that are not on PATH."""
    tools = declared_tools()
    wanted = [tools[name] for name in names] if names is not None else list(tools.values())
    packages: list[str] = []
    for tool in wanted:
        if shutil.which(tool.program) is None and tool.package not in packages:
            packages.append(tool.package)
    return packages


def build_shared_object(source: Path, output: Path, flags: tuple[str, ...], what: str,
                        depends: tuple[Path, ...] = ()) -> Path:
    """`output`, compiled from `source` with the host's gcc when it is missing or older than the
    source or `depends`. Written under another name and renamed, so that a process loading it (another
    CI job) never sees it half written. `what` names it in the error."""
    newest = max(path.stat().st_mtime for path in (source, *depends))
    if output.is_file() and output.stat().st_mtime >= newest:
        return output
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f"{output.name}.{os.getpid()}")
    command = [program("gcc"), *flags, "-o", str(partial), str(source)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise HarnessError(f"{what} does not compile: {' '.join(command)}", result.stderr.strip())
    os.replace(partial, output)
    return output
