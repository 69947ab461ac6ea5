"""Captures tests/harness/data/disasm/<target>.{symbols,listing}.txt: branches.c compiled with a
target's compiler and flags, as its own objdump prints it (-t and -d --no-show-raw-insn). The harness
test reads every pair found here, so a new target's pair is a capture away and needs no test edit:

    .venv/bin/python tests/harness/data/disasm/capture.py loongarch64 --toolchain docker
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from small_harness.commands.common import chosen_backend
from small_harness.core.paths import REPO_ROOT, relative
from small_harness.targets.registry import resolve_targets

HERE = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("arch")
    parser.add_argument("--toolchain", default="auto")
    options = parser.parse_args()
    backend = chosen_backend(options.toolchain)
    for target in resolve_targets(options.arch, backend=backend.name):
        # the first kernel table's flags: the listing then has its vector dialect
        isa_flags = list(target.simd_isas[0].flags) if target.simd_isas else []
        target_flags = [f"--target={target.compiler.target}"] if target.compiler.target else []
        with tempfile.TemporaryDirectory(dir=REPO_ROOT / "build") as scratch:
            obj = Path(scratch) / "branches.o"
            compile_argv = [target.compiler.cc, *target_flags, *target.compiler.flags, *isa_flags, "-O2", "-c",
                            str(HERE / "branches.c"), "-o", str(obj)]
            result = backend.run(target, compile_argv, REPO_ROOT)
            if result.returncode != 0:
                raise SystemExit(f"{target.name}: {result.output}")
            for option, suffix in (("-t", "symbols"), ("-d", "listing")):
                argv = [target.elf.objdump, option, *(["--no-show-raw-insn"] if option == "-d" else []), str(obj)]
                output = backend.run(target, argv, REPO_ROOT).output.replace(str(obj), "branches.o")
                (HERE / f"{target.name}.{suffix}.txt").write_text(output)
        print(f"{target.name}: {relative(HERE)}/{target.name}.{{symbols,listing}}.txt")


if __name__ == "__main__":
    main()
