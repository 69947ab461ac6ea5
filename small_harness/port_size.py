"""The size of each ISA port: lines of C in arch/<isa>/, blank lines and comments excluded.
The budget keeps ports several times smaller than SMaLL's 1,000-1,600 lines."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .targets import REPO_ROOT

ARCH_DIR = REPO_ROOT / "arch"
PORTABLE = "ref"  # the portable kernels: the reference, not a port
LINE_BUDGET = 400
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_LINE_COMMENT = re.compile(r"//[^\n]*")


def code_lines(source: str) -> int:
    """Lines with code once comments are removed (comment markers inside strings are rare enough
    in kernels that this simple scan is exact for them)."""
    without = _LINE_COMMENT.sub("", _BLOCK_COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), source))
    return sum(1 for line in without.splitlines() if line.strip())


@dataclass(frozen=True)
class PortSize:
    isa: str
    files: int
    lines: int

    @property
    def within_budget(self) -> bool:
        return self.isa == PORTABLE or self.lines <= LINE_BUDGET


def port_sizes(arch_dir: Path = ARCH_DIR) -> list[PortSize]:
    sizes = []
    for folder in sorted(p for p in arch_dir.iterdir() if p.is_dir()):
        files = sorted(folder.glob("*.[ch]"))
        sizes.append(PortSize(folder.name, len(files), sum(code_lines(f.read_text()) for f in files)))
    return sizes


def format_table(sizes: list[PortSize]) -> str:
    rows = [f"{'isa':8} {'files':>5} {'lines':>6}  budget {LINE_BUDGET}"]
    for size in sizes:
        verdict = "portable reference" if size.isa == PORTABLE else ("ok" if size.within_budget else "OVER")
        rows.append(f"{size.isa:8} {size.files:>5} {size.lines:>6}  {verdict}")
    return "\n".join(rows)
