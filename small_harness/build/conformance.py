"""`invoke kernels`: the conformance table of the ports. Per kernel table: the template it
instantiates and its own lines (port_size.py), and for each kind whether it runs the table's own code
or arch/ref's, with its tiles (every variant of the kind, such as RVV's conv in each register group),
as the built runner reports at each variant (so a vector-length agnostic table shows its tiles at
every vector length it is tested at)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from small_harness.toolchain.backends import Backend
from small_harness.build.cmake import build
from small_harness.build.port_size import port_sizes
from small_harness.runner.client import Runner
from small_harness.targets.types import REF_ISA, SIMD_KINDS
from small_harness.targets.types import Target
from small_harness.targets.registry import missing_cpu_flags

KINDS = (*SIMD_KINDS, "softmax")


@dataclass
class IsaRow:
    isa: str
    targets: set[str]
    tiles: dict[str, list[str]]  # by kind: "6x16" per variant, or "ref"


def collect(targets: list[Target], backend: Backend) -> tuple[dict[str, IsaRow], list[str]]:
    """Rows by ISA, and the variants that could not run here (CPU lacks the table)."""
    rows: dict[str, IsaRow] = {}
    skipped = []
    for target in targets:
        result = build(target, backend)
        for variant in target.variants():
            if missing_cpu_flags(target, variant):
                skipped.append(variant.label)
                continue
            with Runner(backend.runner_command(target, result.runner, variant)) as runner:
                info = runner.info()
            row = rows.setdefault(variant.isa, IsaRow(variant.isa, set(), defaultdict(list)))
            row.targets.add(target.name)
            for kind in KINDS:
                # Every variant of the kind (RVV's conv in each register group), widest first.
                native = info.kernels[kind].name.endswith(f"-{variant.isa}")
                tile = "|".join(f"{kernel.pixel_tile}x{kernel.channel_tile or 'all'}" for kernel in info.variants(kind))
                cell = tile if native else f"ref {tile}" if variant.isa != REF_ISA else tile
                if cell not in row.tiles[kind]:
                    row.tiles[kind].append(cell)
    return rows, skipped


def _cells(tiles: list[str]) -> str:
    """"8x4/8x8/8x16" as "8x4..16": the tiles of one kind at increasing vector lengths."""
    if len(tiles) < 2 or any("|" in tile for tile in tiles) or len({tile.split("x")[0] for tile in tiles}) != 1:
        return "/".join(tiles)
    return f"{tiles[0]}..{tiles[-1].split('x')[1]}"


def format_table(rows: dict[str, IsaRow], skipped: list[str]) -> str:
    sizes = {size.isa: size for size in port_sizes()}
    header = ["isa", "targets", "template", "lines", *KINDS]
    table = [header]
    for isa, row in sorted(rows.items(), key=lambda item: (item[0] == REF_ISA, item[0])):
        size = sizes.get(isa)
        template = size.template if size and size.template else "-"
        lines = str(size.lines) if size else "-"
        table.append([isa, ",".join(sorted(row.targets)), template, lines, *(_cells(row.tiles[kind]) for kind in KINDS)])
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    text = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip() for line in table]
    text.insert(1, "  ".join("-" * w for w in widths))
    text.append("tiles are pixels x channels per call; 'ref' marks a kind that runs arch/ref's portable code; "
                "a vector-length agnostic table lists its tiles at each tested vector length; a|b are one kind's "
                "variants, widest first (the library takes per layer the one that idles fewest lanes)")
    if skipped:
        text.append(f"not run here (this CPU lacks the table): {', '.join(skipped)}")
    return "\n".join(text)
