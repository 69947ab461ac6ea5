"""The size of each ISA port: lines of C in arch/<isa>/, blank lines and comments excluded, against the
goal of the template it instantiates. The kernels are written once, in arch/template/; a port is its
primitives, its tile sizes, and any kernel it overrides, so the templates are counted apart."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from small_harness.core.paths import REPO_ROOT

ARCH_DIR = REPO_ROOT / "arch"
TEMPLATE_DIR = ARCH_DIR / "template"
PORTABLE = "ref"  # the portable kernels: the reference, not a port
# Each template, and the most lines an ISA instantiating it may have of its own.
TEMPLATE_GOALS = {"simd_fixed.h": 60, "simd_vla.h": 120}
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_LINE_COMMENT = re.compile(r"//[^\n]*")
_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)


def code_lines(source: str) -> int:
    """Lines with code once comments are removed (comment markers inside strings are rare enough
    in kernels that this simple scan is exact for them)."""
    without = _LINE_COMMENT.sub("", _BLOCK_COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), source))
    return sum(1 for line in without.splitlines() if line.strip())


@dataclass(frozen=True)
class PortSize:
    isa: str
    files: int
    lines: int  # its own: the files in arch/<isa>/
    template: str | None  # the template it includes, e.g. simd_fixed.h; None for ref
    shared: tuple[str, ...]  # headers of other ISA folders it includes (counted there), e.g. neon/neon_simd.h

    @property
    def goal(self) -> int | None:
        return TEMPLATE_GOALS.get(self.template or "")

    @property
    def within_goal(self) -> bool:
        return self.isa == PORTABLE or (self.goal is not None and self.lines <= self.goal)


@dataclass(frozen=True)
class TemplateSize:
    name: str
    lines: int
    users: tuple[str, ...]


def _includes(files: list[Path]) -> list[str]:
    return [name for file in files for name in _INCLUDE.findall(file.read_text())]


def port_sizes(arch_dir: Path = ARCH_DIR) -> list[PortSize]:
    sizes = []
    for folder in sorted(p for p in arch_dir.iterdir() if p.is_dir() and p != arch_dir / TEMPLATE_DIR.name):
        files = sorted(folder.glob("*.[ch]"))
        includes = _includes(files)
        template = next((name for name in includes if name in TEMPLATE_GOALS), None)
        shared = tuple(name.removeprefix("../") for name in includes if name.startswith("../"))
        sizes.append(PortSize(folder.name, len(files), sum(code_lines(f.read_text()) for f in files), template, shared))
    return sizes


def template_sizes(arch_dir: Path = ARCH_DIR) -> list[TemplateSize]:
    """Each template with the parts of arch/template/ it includes (simd_vla.h: simd_vla_group.h)."""
    ports = port_sizes(arch_dir)
    folder = arch_dir / TEMPLATE_DIR.name
    sizes = []
    for name in TEMPLATE_GOALS:
        files = [folder / name]
        files += [folder / part for part in dict.fromkeys(_includes(files)) if (folder / part).is_file()]
        sizes.append(TemplateSize(name, sum(code_lines(f.read_text()) for f in files),
                                  tuple(p.isa for p in ports if p.template == name)))
    return sizes


def format_table(sizes: list[PortSize], templates: list[TemplateSize]) -> str:
    rows = ["templates (arch/template/), written once:"]
    for t in templates:
        rows.append(f"  {t.name:14} {t.lines:>5} lines, instantiated by {', '.join(t.users) or 'none'}")
    rows += ["", f"{'isa':8} {'files':>5} {'lines':>6}  {'template':14} {'goal':>5}  verdict"]
    for size in sizes:
        if size.isa == PORTABLE:
            verdict, goal = "portable reference (every kind, any CPU)", "-"
        else:
            goal = str(size.goal) if size.goal else "-"
            verdict = "ok" if size.within_goal else ("OVER" if size.goal else "no template")
        extra = f" (+ {', '.join(size.shared)}, shared, counted there)" if size.shared else ""
        rows.append(f"{size.isa:8} {size.files:>5} {size.lines:>6}  {size.template or '-':14} {goal:>5}  {verdict}{extra}")
    return "\n".join(rows)
