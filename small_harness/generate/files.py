"""Files generated from toolchains/*.toml, all in one place: the CMake toolchain files, the bare-metal
linker scripts, the GitHub
workflow, and the README's table of targets. `invoke generate` writes them; harness tests check that
the committed ones are what the TOMLs give, so nothing else in the repository lists the targets."""

from __future__ import annotations

import re
from pathlib import Path

from small_harness.generate.linker_script import write_committed_linker_scripts
from small_harness.generate.cmake_toolchain import write_committed_toolchains
from small_harness.core.errors import HarnessError
from small_harness.core.paths import REPO_ROOT
from small_harness.targets.types import Target
from small_harness.targets.registry import load_targets
from small_harness.generate.workflow import WORKFLOW_FILE, write_workflow

README = REPO_ROOT / "README.md"
BEGIN = "<!-- targets: generated from toolchains/*.toml by `invoke generate`; do not edit -->"
END = "<!-- end of targets -->"


def _compilers(host: Target, docker: Target) -> str:
    host_cc = host.compiler.cc + "".join(f" or {cc}" for cc in host.compiler.alternatives)
    if host.releases_without_host:
        host_cc += f" (none on {', '.join(host.releases_without_host)})"
    return host_cc if docker.compiler.cc == host.compiler.cc else f"{host_cc} / {docker.compiler.cc}"


def target_table(hosts: dict[str, Target], dockers: dict[str, Target]) -> str:
    rows = ["| target | aliases | kernel tables, best first | variants (one CI job each) | compiler: host / docker "
            "| emulator |", "| --- | --- | --- | --- | --- | --- |"]
    for name, target in hosts.items():
        emulator = "native"
        if target.emulator is not None:
            machine = f" -M {target.emulator.machine}" if target.emulator.machine else ""
            emulator = f"`{target.emulator.binary}{machine} -cpu {target.emulator.cpu}`"
        variants = ", ".join(f"`{v.label}`" for v in target.variants())
        tables = ", ".join(isa.name + (" (in progress)" if isa.ref_kinds else "") for isa in target.kernel_isas)
        rows.append(f"| `{name}` | {', '.join(target.aliases) or '-'} | {tables} | {variants} | "
                    f"{_compilers(target, dockers[name])} | {emulator} |")
    return "\n".join(rows)


def readme_with_table(text: str, table: str) -> str:
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), flags=re.S)
    if not pattern.search(text):
        raise HarnessError(f"README.md has no target table between {BEGIN!r} and {END!r}")
    return pattern.sub(lambda _: f"{BEGIN}\n{table}\n{END}", text)


def write_readme_table(readme: Path = README) -> bool:
    table = target_table(load_targets(release=None), load_targets(backend="docker"))
    text = readme.read_text()
    updated = readme_with_table(text, table)
    if updated == text:
        return False
    readme.write_text(updated)
    return True


def regenerate() -> list[Path]:
    """Writes every generated file from the TOMLs; returns those whose text changed."""
    committed = list(load_targets(release=None).values())  # the same on every Debian release
    changed = write_committed_toolchains(committed) + write_committed_linker_scripts(committed)
    if write_workflow(list(load_targets().values())):
        changed.append(WORKFLOW_FILE)
    if write_readme_table():
        changed.append(README)
    return changed
