"""`invoke bench --peer-isa avx2`: AVX-512 hidden from this process's CPUID (LiteRT's, not ours).

The shim changes the process that loads it, so the real cases run in a fresh Python each."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

from small_harness.core.errors import HarnessError
from small_harness.bench.peer_isa import check_peer_isa, hide_avx512_from_litert
from small_harness.core.paths import REPO_ROOT
from small_harness.targets.registry import cpu_flags

FLAGS = cpu_flags()
CAN_HIDE = "avx512f" in FLAGS and "cpuid_fault" in FLAGS
needs_hiding = pytest.mark.skipif(not CAN_HIDE, reason="this CPU has no AVX-512 to hide, or cannot fault CPUID")


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO_ROOT, capture_output=True,
                          text=True, check=False, timeout=120)


def test_unknown_peer_isa_is_refused() -> None:
    with pytest.raises(HarnessError, match=r"--peer-isa sse: one of native, avx2"):
        check_peer_isa("sse")
    check_peer_isa("native")
    check_peer_isa("avx2")


def test_a_cpu_without_avx512_needs_no_hiding() -> None:
    assert "has no AVX-512" in hide_avx512_from_litert({"avx2", "fma"})


def test_a_cpu_that_cannot_fault_cpuid_is_refused_in_one_line() -> None:
    with pytest.raises(HarnessError, match="cannot fault CPUID") as caught:
        hide_avx512_from_litert({"avx2", "avx512f"})
    assert "\n" not in str(caught.value)


@needs_hiding
def test_cpuid_hides_avx512_in_this_thread_and_in_threads_started_after() -> None:
    result = run_python("""
        import threading
        from small_harness.bench import peer_isa
        print(peer_isa.hide_avx512_from_litert())
        seen = []
        thread = threading.Thread(target=lambda: seen.append(peer_isa._loaded.small_cpuid_avx512f()))
        thread.start(); thread.join()
        print("main", peer_isa._loaded.small_cpuid_avx512f(), peer_isa._loaded.small_cpuid_avx_vnni(),
              "thread", seen[0])
        print(peer_isa.hide_avx512_from_litert())  # a second call loads nothing again
    """)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "AVX-512, AMX and AVX-VNNI hidden" in lines[0]
    assert lines[1] == "main 0 0 thread 0"


@needs_hiding
def test_a_real_segfault_still_kills_the_process() -> None:
    """A fault that is no CPUID goes to the handler before the shim's (here the default): no loop."""
    result = run_python("""
        import ctypes
        from small_harness.bench import peer_isa
        peer_isa.hide_avx512_from_litert()
        ctypes.string_at(0)
    """)
    assert result.returncode == -signal.SIGSEGV


@needs_hiding
def test_litert_runs_with_avx512_hidden() -> None:
    """LiteRT still computes the model's output (XNNPACK on its AVX2 kernels)."""
    result = run_python("""
        import numpy as np
        from small_harness.bench import peer_isa
        from small_harness.models.mlperf_tiny import MODELS_DIR
        peer_isa.hide_avx512_from_litert()
        from ai_edge_litert.interpreter import Interpreter
        interpreter = Interpreter(model_path=str(MODELS_DIR / "ad01_fp32.tflite"), num_threads=2)
        interpreter.allocate_tensors()
        x = np.linspace(-1, 1, 640, dtype=np.float32).reshape(1, 640)
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
        interpreter.invoke()
        y = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
        print(y.shape, bool(np.isfinite(y).all()), peer_isa._loaded.small_cpuid_avx512f())
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(1, 640) True 0"


def test_bench_refuses_an_unknown_peer_isa_in_one_line() -> None:
    result = subprocess.run([sys.executable, "-m", "invoke", "bench.models", "--peer-isa", "avx3"], cwd=REPO_ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: --peer-isa avx3: one of native, avx2"]
