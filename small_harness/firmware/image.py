"""Bare-metal firmware for one model: the model file, pre-packed for the target's kernels, embedded in
flash and read in place (lib/runner/firmware.c), built
with the target's toolchain against the library the harness built, run once under QEMU system
mode, and measured: flash and RAM from the ELF (pyelftools), and the arena, heap and peak stack the
run reports, all against the board's memory map ([board] in the target's TOML)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from small_harness.toolchain.backends import Backend
from small_harness.generate.linker_script import MODEL_SECTION, committed_linker_script_path
from small_harness.build.cmake import LIBRARY_NAME, build, run_build_command
from small_harness.core.errors import HarnessError
from small_harness.models.litert import model_disagreement
from small_harness.runner.launch import start_runner
from small_harness.runner.client import SmallError, exchange_deadline
from small_harness.targets.types import MemoryRegion, Target
from small_harness.core.paths import REPO_ROOT
from small_harness.models.cache import import_cached
from small_harness.models.mlperf_tiny import FLOAT_MODELS, MODELS_DIR

FIRMWARE_SOURCE = REPO_ROOT / "lib" / "runner" / "firmware.c"
REPORT = re.compile(r"small_firmware: arena (\d+) heap (\d+) stack (\d+) kernels(.*)")
FIRMWARE_FLAGS = ("-O2", "-Wall", "-Wextra")


@dataclass(frozen=True)
class Firmware:
    target: Target
    elf: Path
    model_bytes: int


@dataclass(frozen=True)
class FirmwareRun:
    output: np.ndarray  # flat float32
    arena_bytes: int
    heap_bytes: int  # the heap's high-water mark: the plan (the weights stay in flash, the I/O is in the arena)
    stack_bytes: int  # the deepest stack reached (stack painting)
    kernels: tuple[str, ...]


@dataclass(frozen=True)
class SizeReport:
    code_bytes: int  # code and read-only data, plus the initial values of .data (flash)
    model_bytes: int  # the embedded model file (flash)
    static_ram_bytes: int  # .data, .bss (RAM), the arena included
    run: FirmwareRun


def _assembly(model_file: Path) -> str:
    """The model file as the section the board's linker script places in flash."""
    return (f'    .section {MODEL_SECTION}, "a"\n    .balign 16\n'
            "    .global small_model_file, small_model_file_end\n"
            f'small_model_file:\n    .incbin "{model_file}"\nsmall_model_file_end:\n')


def build_firmware(target: Target, backend: Backend, name: str, model_file: bytes) -> Firmware:
    """Links firmware.c, the model and the target's libsmall.a into build/<backend>/<target>/firmware/."""
    if target.board is None:
        raise HarnessError(f"{target.name} is not a bare-metal target: firmware images are for targets with a [board]")
    result = build(target, backend)
    # On the target's own build: the arena's size from its planner (the firmware's static buffer),
    # and the model pre-packed for its kernels, so that the firmware reads the weights in flash.
    with start_runner(target, None, backend, result.runner) as runner:
        try:
            arena_bytes = runner.load_model(model_file).arena_bytes
            model_file = runner.pack_model(model_file)
        except SmallError as error:
            raise HarnessError(f"{name} on {target.name}: {error}") from None
    folder = result.build_dir / "firmware"
    folder.mkdir(exist_ok=True)
    model_path = folder / f"{name}.smlm"
    model_path.write_bytes(model_file)
    assembly = folder / f"{name}-model.S"
    assembly.write_text(_assembly(model_path))
    elf = folder / f"{name}.elf"
    argv = [*target.compiler_command(), *FIRMWARE_FLAGS, f"-DSMALL_FIRMWARE_ARENA_BYTES={arena_bytes}",
            "-I", str(REPO_ROOT / "lib" / "include"), "-I", str(FIRMWARE_SOURCE.parent),
            str(FIRMWARE_SOURCE), str(assembly), str(result.build_dir / LIBRARY_NAME), "-lm",
            *target.compiler.link_flags, f"-T{committed_linker_script_path(target)}", "-o", str(elf)]
    run_build_command(backend, target, argv, cwd=REPO_ROOT)
    return Firmware(target, elf, len(model_file))


def run_firmware(firmware: Firmware, backend: Backend, x: np.ndarray) -> FirmwareRun:
    """Boots the firmware with x on its input stream; its output and what it reports having used."""
    target = firmware.target
    command = backend.interactive_command(target, target.run_command() + [str(firmware.elf)])
    deadline = exchange_deadline(emulated=True)
    try:
        done = subprocess.run(command, input=np.ascontiguousarray(x, dtype="<f4").tobytes(), capture_output=True,
                              timeout=deadline)
    except subprocess.TimeoutExpired:
        raise HarnessError(f"{firmware.elf.name} on {target.name}: no result within {deadline:g} s") from None
    console = done.stderr.decode("utf-8", "replace")
    found = REPORT.search(console)
    if done.returncode != 0 or found is None:
        tail = " | ".join(console.strip().splitlines()[-3:])
        raise HarnessError(f"{firmware.elf.name} on {target.name} failed (exit status {done.returncode}): {tail}")
    return FirmwareRun(output=np.frombuffer(done.stdout, dtype="<f4").astype(np.float32),
                       arena_bytes=int(found.group(1)), heap_bytes=int(found.group(2)),
                       stack_bytes=int(found.group(3)), kernels=tuple(found.group(4).split()))


def measure(firmware: Firmware, run: FirmwareRun) -> SizeReport:
    """The ELF's allocated sections, by where they live."""
    code = model = static_ram = 0
    with firmware.elf.open("rb") as stream:
        for section in ELFFile(stream).iter_sections():
            if not section["sh_flags"] & SH_FLAGS.SHF_ALLOC or section.name.startswith(".stack"):
                continue
            size = int(section["sh_size"])
            if section.name == MODEL_SECTION:
                model += size
            elif section["sh_flags"] & SH_FLAGS.SHF_WRITE:
                static_ram += size
                if section["sh_type"] != "SHT_NOBITS":
                    code += size  # initial values, stored in flash and copied at start
            else:
                code += size
    return SizeReport(code, model, static_ram, run)


@dataclass(frozen=True)
class RegionUse:
    region: MemoryRegion
    parts: tuple[tuple[str, int], ...]

    @property
    def used(self) -> int:
        return sum(size for _, size in self.parts)

    @property
    def fits(self) -> bool:
        return self.used <= self.region.size


def region_uses(target: Target, report: SizeReport) -> list[RegionUse]:
    """What each memory of the board holds: the code flash, the model flash, and RAM (static data,
    the heap's high-water mark, and the stack the run reached)."""
    board = target.board
    assert board is not None
    code_parts = [("code, rodata, data init", report.code_bytes)]
    uses = []
    if board.model is None:
        code_parts.append(("model", report.model_bytes))
    uses.append(RegionUse(board.code, tuple(code_parts)))
    if board.model is not None:
        uses.append(RegionUse(board.model, (("model", report.model_bytes),)))
    run = report.run
    uses.append(RegionUse(board.ram, (("data, bss", report.static_ram_bytes), ("heap", run.heap_bytes),
                                      ("stack", run.stack_bytes))))
    return uses


def _kib(size: int) -> str:
    return f"{size / 1024:.1f} KiB"


def describe(target: Target, report: SizeReport) -> list[str]:
    run = report.run
    lines = []
    for use in region_uses(target, report):
        parts = " + ".join(f"{name} {_kib(size)}" for name, size in use.parts)
        verdict = "fits" if use.fits else f"DOES NOT FIT by {_kib(use.used - use.region.size)}"
        lines.append(f"  {use.region.name} ({_kib(use.region.size)} at {use.region.origin:#010x}): {parts} = "
                     f"{_kib(use.used)}, {100 * use.used / use.region.size:.0f}%: {verdict}")
    lines.append(f"  data, bss: the arena {_kib(run.arena_bytes)} (a static buffer sized by the planner); heap: the "
                 f"plan (the weights are read in flash, the input and output live in the arena); stack reserved "
                 f"{_kib(target.board.stack_bytes if target.board else 0)}")
    return lines


def size_table(rows: list[tuple[Target, str, SizeReport]]) -> str:
    """The README's table: per target and model, each memory's use against its size."""
    lines = ["| target | model | code flash | model flash | RAM: data+bss (arena) / heap / stack | RAM total | fits |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for target, name, report in rows:
        uses = region_uses(target, report)
        code, ram = uses[0], uses[-1]
        model_use = uses[1] if len(uses) == 3 else None
        run = report.run
        model_cell = (f"{_kib(report.model_bytes)} of {model_use.region.name} {_kib(model_use.region.size)}"
                      if model_use else f"{_kib(report.model_bytes)} (in {code.region.name})")
        lines.append(
            f"| `{target.name}` | {name} | {_kib(code.used)} of {code.region.name} {_kib(code.region.size)} | "
            f"{model_cell} | {_kib(report.static_ram_bytes)} ({_kib(run.arena_bytes)}) / {_kib(run.heap_bytes)} / "
            f"{_kib(run.stack_bytes)} | {_kib(ram.used)} of {ram.region.name} {_kib(ram.region.size)} | "
            f"{'yes' if all(use.fits for use in uses) else 'no'} |")
    return "\n".join(lines)


def firmware_sizes(targets: list[Target], backend: Backend, model: str) -> list[tuple[Target, str, SizeReport]]:
    """Builds and runs each model's firmware on each target, printing each report as it comes."""
    paths = [MODELS_DIR / f"{name}.tflite" for name in FLOAT_MODELS] if model == "all" else [Path(model)]
    for path in paths:
        if not path.is_file():
            raise HarnessError(f"{path}: no such model file")
    rows = []
    for target in targets:
        if not target.is_bare_metal:
            raise HarnessError(f"{target.name} is not a bare-metal target; invoke size measures firmware images "
                               "for targets with a [board] (cortex-m55, cortex-m4)")
        for path in paths:
            imported = import_cached(path)
            firmware = build_firmware(target, backend, path.stem, imported.file)
            model = imported.model
            x = np.random.default_rng(0).random(model.shapes[model.input], dtype=np.float32)
            run = run_firmware(firmware, backend, x)
            why = model_disagreement(path, model, x, run.output)
            if why:
                raise HarnessError(f"{path.name} on {target.name}: the firmware's output differs from LiteRT's: {why}")
            report = measure(firmware, run)
            print(f"{target.name}: {path.stem} (matches LiteRT)")
            for line in describe(target, report):
                print(line)
            rows.append((target, path.stem, report))
    return rows
