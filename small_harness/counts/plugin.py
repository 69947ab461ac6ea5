"""The instruction-counting QEMU plugin (small_harness/counts/qemu_plugin/small_counts.c): built with the host's
gcc into build/count_plugin/, probed against the emulator that is to load it, its arguments for a
variant, and the parsing of what it writes at exit."""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from small_harness.toolchain.backends import Backend
from small_harness.core.errors import HarnessError
from small_harness.runner.launch import runner_argv
from small_harness.targets.types import Target, Variant
from small_harness.core.paths import REPO_ROOT
from small_harness.core.tools import build_shared_object

SOURCE_DIR = Path(__file__).with_name("qemu_plugin")
SOURCES = (SOURCE_DIR / "small_counts.c", SOURCE_DIR / "qemu_plugin_v1.h")
PLUGIN = REPO_ROOT / "build" / "count_plugin" / "small_counts.so"
BEGIN_MARKER, END_MARKER = "small_count_layer", "small_count_end"  # lib/src/model.c
CFLAGS = ("-shared", "-fPIC", "-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", "-fvisibility=hidden")
PROBE_SECONDS = 60


@dataclass(frozen=True)
class LayerCounts:
    """What the plugin counted between two markers: one layer's run."""

    insns: int
    vfma: int  # FMA instructions of more than one lane
    vlanes: int  # the lanes those held (RVV: VLMAX of the vtype in force)
    sfma: int  # one-lane (scalar) FMA instructions
    loads: int  # instructions that read memory, each execution once
    stores: int

    @property
    def fma_lanes(self) -> int:
        """Lanes of every FMA, a scalar one counting one."""
        return self.vlanes + self.sfma


FIELDS = ("insns", "vfma", "vlanes", "sfma", "loads", "stores")
_HEADER = re.compile(r"small_counts counts=(\d+) vlen=(\d+) unknown_vtype=(\d+) begin=(found|missing)$")
_COUNT = re.compile(r"count (\d+) " + " ".join(rf"{name}=(\d+)" for name in FIELDS) + "$")


def parse_output(text: str, where: str) -> list[LayerCounts]:
    """The counts in the plugin's output (QEMU's log: other lines are ignored). A missing or
    inconsistent report is a HarnessError naming `where` it came from."""
    header = None
    found: list[LayerCounts] = []
    for line in text.splitlines():
        line = line.strip()
        if match := _HEADER.match(line):
            header = match
        elif match := _COUNT.match(line):
            if int(match.group(1)) != len(found):
                raise HarnessError(f"{where}: count {match.group(1)} out of order (expected {len(found)})")
            found.append(LayerCounts(*(int(value) for value in match.groups()[1:])))
        elif line.startswith(("small_counts", "count ")):
            raise HarnessError(f"{where}: unreadable line from the counting plugin: {line[:120]}")
    if header is None:
        raise HarnessError(f"{where}: no report from the counting plugin (did QEMU load it?)")
    if header.group(4) == "missing":
        raise HarnessError(f"{where}: the runner never called {BEGIN_MARKER} (a library without the markers, "
                           "or stripped symbols)")
    if int(header.group(3)):
        raise HarnessError(f"{where}: {header.group(3)} vsetvl instructions set a vtype from a register, whose lanes "
                           "the plugin cannot know")
    if int(header.group(1)) != len(found):
        raise HarnessError(f"{where}: the plugin reported {header.group(1)} counts but wrote {len(found)}")
    return found


def build_plugin() -> Path:
    """build/count_plugin/small_counts.so, compiled again when a source is newer."""
    return build_shared_object(SOURCES[0], PLUGIN, CFLAGS, "the counting plugin", depends=SOURCES[1:])


def plugin_args(target: Target, variant: Variant, plugin: Path) -> str:
    """The -plugin value for a variant: the FMA prefixes from its TOML, its vector length."""
    assert target.counts is not None
    prefixes = dict.fromkeys(target.isa(variant.isa).fma_mnemonics + target.counts.scalar_fma_mnemonics)
    bad = [prefix for prefix in prefixes if "," in prefix or "=" in prefix]
    if bad:
        raise HarnessError(f"{target.source.name}: the FMA mnemonic '{bad[0]}' cannot be a plugin argument (',' or '=')")
    parts = [str(plugin), f"vlen={variant.vlen or 0}", f"begin={BEGIN_MARKER}", f"end={END_MARKER}"]
    return ",".join(parts + [f"fma={prefix}" for prefix in prefixes])


def emulator_args(target: Target, variant: Variant, plugin: Path, log: Path) -> list[str]:
    """QEMU options that load the plugin and send its output (QEMU's `plugin` log) to `log`."""
    return ["-plugin", plugin_args(target, variant, plugin), "-d", "plugin", "-D", str(log)]


def setup_reason(target: Target, backend: Backend) -> str | None:
    """Why this target and backend cannot count at all, known before building anything."""
    if target.counts is None:
        return f"{target.name}: its TOML has no [counts] table"
    if backend.name != "host":
        return ("the counting plugin is a host library that the host's qemu-user loads; the docker backend's "
                "QEMU cannot load it: use --toolchain host on a machine whose qemu-user loads plugins (Debian 12)")
    return None


def unable_reason(target: Target, variant: Variant, backend: Backend, runner: Path) -> str | None:
    """Why instructions cannot be counted here, or None when they can. Probed, not assumed: the
    target's QEMU runs the runner (which exits at once on an empty request stream) with the plugin,
    and the plugin must report."""
    why = setup_reason(target, backend)
    if why is not None:
        return why
    plugin = build_plugin()
    with tempfile.TemporaryDirectory(prefix="small-counts-probe-") as folder:
        log = Path(folder) / "plugin.log"
        command = runner_argv(target, variant, runner, emulator_args(target, variant, plugin, log))
        try:
            result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,
                                    text=True, timeout=PROBE_SECONDS)
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"{target.emulator.binary if target.emulator else '?'} with -plugin did not run: {error}"
        said = (result.stderr.strip().splitlines() or [""])[0]
        if result.returncode != 0 or not log.is_file() or "small_counts" not in log.read_text(errors="replace"):
            binary = target.emulator.binary if target.emulator else "?"
            return (f"{binary} cannot load TCG plugins ({said or f'exit {result.returncode}, no report'}); counting "
                    "needs a dynamically linked qemu-user with plugin API version 1, e.g. Debian 12's QEMU 7.2")
    return None

