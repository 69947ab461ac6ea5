"""`invoke port-size` and `invoke kernels`: the ports' size against their templates' goals, and what
each kernel table runs kind by kind."""

from __future__ import annotations

from small_harness.build.conformance import collect
from small_harness.build.conformance import format_table as format_conformance
from small_harness.build.port_size import format_table, port_sizes, template_sizes
from small_harness.commands.common import chosen_backend, usable_targets
from small_harness.core.errors import HarnessError
from small_harness.targets.registry import resolve_targets


def port_size() -> None:
    sizes = port_sizes()
    print(format_table(sizes, template_sizes()))
    if not all(size.within_goal for size in sizes):
        raise HarnessError("a port is over its goal")


def kernels(arch: str, toolchain: str) -> None:
    backend = chosen_backend(toolchain)
    rows, skipped = collect(usable_targets(resolve_targets(arch, backend=backend.name), backend), backend)
    print(format_conformance(rows, skipped))
