"""Which kernels serve a model, as `invoke run` prints them: one line for the kernel tables (those the
build has, those this CPU runs, the chain in force), then one row per layer with its op, output shape
and the kernel the runner's model load named for it (lib/runner/runner.c, small_layer_kernel_name)."""

from __future__ import annotations

from collections.abc import Sequence

from small_harness.models.format import Model
from small_harness.runner.client import RunnerInfo

NO_KERNEL = "-"  # a layer no kernel serves (a reshape is the same memory)


def tables_line(info: RunnerInfo, where: str) -> str:
    """ "kernels on aarch64@sve-vlen512 (SMALL_KERNELS=sve): in force sve, ref; built sve, asimd, ref; this
    CPU runs sve, asimd, ref", with the reason when the chain asked for was refused."""
    line = (f"kernels on {where}: in force {', '.join(info.selected) or 'none'}; built {', '.join(info.isas)}; "
            f"this CPU runs {', '.join(info.supported) or 'none'}")
    return line + (f"; refused: {info.select_error}" if info.select_error else "")


def _op(model: Model, index: int) -> tuple[str, str]:
    """A layer's op (its TFLite operator, else the library's layer) and output shape HxWxC."""
    if index >= len(model.nodes):
        return "?", ""
    node = model.nodes[index]
    op = node.origin.split(" #")[0] if node.origin else type(node.layer).__name__
    return op, "x".join(map(str, model.shapes[node.output]))


def layer_table(model: Model, kernels: Sequence[str]) -> str:
    """One row per layer of the loaded model: index, op, output shape, kernel; columns aligned."""
    rows = [("layer", "op", "output", "kernel")]
    rows += [(str(i), *_op(model, i), kernel or NO_KERNEL) for i, kernel in enumerate(kernels)]
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    return "\n".join("  ".join([row[0].rjust(widths[0]), *(cell.ljust(widths[c + 1]) for c, cell in
                                                            enumerate(row[1:]))]).rstrip() for row in rows)
