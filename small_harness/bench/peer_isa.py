"""`invoke bench --peer-isa avx2`: LiteRT as on a CPU without AVX-512, on one that has it.

XNNPACK chooses its kernels from CPUID when LiteRT makes its first interpreter. On Linux, a CPU that
can fault CPUID (`cpuid_fault` in /proc/cpuinfo) lets a process trap its own CPUID instructions:
cpuid_shim/hide_avx512.c, built here with the host's gcc and loaded into this process, answers them
with the bits of AVX-512, AMX and the extensions after AVX2 (AVX-VNNI ...) cleared, so LiteRT runs
its AVX2 kernels, as on a CPU with AVX2 and nothing newer. Our library runs in the
runner, another process, on the kernel table that --variant chooses. Must run before this process
makes any LiteRT interpreter."""

from __future__ import annotations

import ctypes
import os
import platform
from pathlib import Path

from small_harness.core.errors import HarnessError
from small_harness.core.paths import REPO_ROOT
from small_harness.targets.registry import cpu_flags
from small_harness.core.tools import build_shared_object

PEER_ISAS = ("native", "avx2")
SOURCE = Path(__file__).with_name("cpuid_shim") / "hide_avx512.c"
LIBRARY = REPO_ROOT / "build" / "cpuid_shim" / "hide_avx512.so"
CFLAGS = ("-shared", "-fPIC", "-O2", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-fvisibility=hidden")
RESULTS_SUBDIR = "litert-avx2"  # under build/bench/: results against LiteRT without AVX-512

_loaded: ctypes.CDLL | None = None  # kept: its handler must stay mapped


def build_shim() -> Path:
    """build/cpuid_shim/hide_avx512.so, compiled again when the source is newer."""
    return build_shared_object(SOURCE, LIBRARY, CFLAGS, "the CPUID shim")


def check_peer_isa(peer_isa: str) -> None:
    if peer_isa not in PEER_ISAS:
        raise HarnessError(f"--peer-isa {peer_isa}: one of {', '.join(PEER_ISAS)}")


def hide_avx512_from_litert(flags: set[str] | None = None) -> str:
    """Hides AVX-512 from this process's CPUID (see above); returns a line saying what LiteRT runs."""
    if platform.machine() != "x86_64":
        raise HarnessError(f"--peer-isa avx2 is for x86-64 hosts; this one is {platform.machine()}")
    flags = cpu_flags() if flags is None else flags
    if "avx512f" not in flags:
        return "LiteRT: this CPU has no AVX-512, so LiteRT runs AVX2 as it is (--peer-isa avx2 changes nothing)"
    if "cpuid_fault" not in flags:
        raise HarnessError("--peer-isa avx2: this CPU (or its VM) cannot fault CPUID (no cpuid_fault in "
                           "/proc/cpuinfo), so AVX-512 cannot be hidden from LiteRT here")
    global _loaded
    if _loaded is None:
        library = ctypes.CDLL(str(build_shim()))
        error = library.small_hide_avx512()
        if error:
            raise HarnessError(f"--peer-isa avx2: CPUID faulting refused ({os.strerror(error)})")
        if library.small_cpuid_avx512f():
            raise HarnessError("--peer-isa avx2: CPUID still reports AVX-512 after the shim loaded")
        _loaded = library
    return ("LiteRT: AVX-512, AMX and AVX-VNNI hidden from its CPUID (--peer-isa avx2), as on a CPU with AVX2 and "
            "nothing newer")
