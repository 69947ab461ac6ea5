"""The build of the target under test, with the toolchain under test: where it goes, incremental
rebuilds, readable failures, the ELF checks on its real artifacts and on objects that must fail
them, the FMA check, the tasks around it and the no-harness CMake flow. Once per target."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from small_harness.toolchain.backends import Backend
from small_harness.build.cmake import ARTIFACT_NAMES, LIBRARY_NAME, BuildResult, build, build_dir_for
from small_harness.generate.cmake_toolchain import committed_toolchain_path, render_toolchain
from small_harness.build.disasm import KINDS_NEEDING_FMA, check_kernel_fmas
from small_harness.build.elf import check_artifacts, check_elf
from small_harness.core.errors import BuildError, ElfMismatchError
from small_harness.toolchain.host import packages_to_install
from small_harness.core.paths import REPO_ROOT
from small_harness.targets.types import Target
from small_harness.targets.registry import load_targets, missing_cpu_flags

pytestmark = pytest.mark.per_target

# Compiles for every target: no #include, so no libc headers are needed.
TINY_C_SOURCE = "int add(int a, int b) { return a + b; }\nfloat scale(float x) { return 2.0f * x; }\n"


def compile_object(backend: Backend, target: Target, directory: Path, stem: str, extra_flags: tuple[str, ...] = ()) -> Path:
    """TINY_C_SOURCE compiled with the target's compiler and flags, plus extra_flags (last wins)."""
    source = directory / f"{stem}.c"
    source.write_text(TINY_C_SOURCE)
    output = directory / f"{stem}.o"
    argv = [*target.compiler_command(), *extra_flags, "-c", str(source), "-o", str(output)]
    result = backend.run(target, argv, directory)
    assert result.returncode == 0, f"{' '.join(argv)}:\n{result.output}"
    return output


def run_invoke(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "invoke", *arguments], cwd=REPO_ROOT, capture_output=True,
                          text=True, check=False)


def test_build_dir_is_per_backend_and_target(build_result: BuildResult, target: Target, backend: Backend) -> None:
    assert build_result.build_dir == REPO_ROOT / "build" / backend.name / target.name
    assert [p.name for p in build_result.artifacts] == list(ARTIFACT_NAMES)
    assert build_result.runner == build_result.build_dir / "small_runner"


def test_rebuild_without_changes_does_not_reconfigure(build_result: BuildResult, target: Target,
                                                      backend: Backend) -> None:
    assert not build(target, backend).configured


def test_compiler_failure_shows_command_and_output_tail(target: Target, backend: Backend) -> None:
    broken = dataclasses.replace(
        target,
        name=f"{target.name}-broken-flags",  # its own build dir, so the real one is untouched
        compiler=dataclasses.replace(target.compiler, flags=(*target.compiler.flags, "-mno-such-option")),
    )
    try:
        with pytest.raises(BuildError) as caught:
            build(broken, backend)
    finally:
        shutil.rmtree(build_dir_for(broken, backend.name), ignore_errors=True)
    assert str(caught.value).startswith(f"{broken.name} ({backend.name}): cmake -S ")
    assert "failed with exit code" in str(caught.value)
    details = caught.value.details.splitlines()
    assert 0 < len(details) <= 20
    assert any("-mno-such-option" in line for line in details)


def test_real_build_passes_the_elf_checks(build_result: BuildResult, target: Target) -> None:
    reports = check_artifacts(target, build_result.artifacts)
    names = [report.name for report in reports]
    # The executables, and every object inside libsmall.a (at least the frame and ref kernels).
    assert any(n.endswith("small_runner") for n in names) and any(n.endswith("small_selftest") for n in names)
    assert sum("libsmall.a(" in n for n in names) >= 3
    assert {(report.machine, report.elf_class) for report in reports} == {(target.elf.machine, target.elf.elf_class)}
    if target.elf.arm_float_abi:
        assert {report.arm_float_abi for report in reports} == {target.elf.arm_float_abi}
    for wanted in target.elf.riscv_arch_contains:
        assert all(wanted in (report.riscv_arch or "").split("_") for report in reports)


def _differs(a: Target, b: Target) -> bool:
    """Whether an ELF file for `a` can tell that it is not for `b`."""
    fields = ("machine", "elf_class", "byte_order", "arm_float_abi", "riscv_arch_contains", "ppc64_abi")
    return any(getattr(a.elf, field) != getattr(b.elf, field) and getattr(b.elf, field) for field in fields)


def test_artifacts_checked_as_another_target_fail(build_result: BuildResult, target: Target) -> None:
    others = [other for other in load_targets().values() if _differs(target, other)]
    if not others:
        pytest.skip(f"no other declared target has ELF expectations that differ from {target.name}'s")
    for other in others:
        with pytest.raises(ElfMismatchError, match=r"small_runner: .*expected"):
            check_elf(other, build_result.runner)
        with pytest.raises(ElfMismatchError, match=r"libsmall\.a\(.+\.o(bj)?\): "):
            check_artifacts(other, [build_result.build_dir / LIBRARY_NAME])


def test_object_with_the_target_flags_passes(target: Target, backend: Backend, scratch_dir: Path) -> None:
    report = check_elf(target, compile_object(backend, target, scratch_dir, "plain"))
    assert report.machine == target.elf.machine


def test_objects_for_another_abi_fail(target: Target, backend: Backend, scratch_dir: Path) -> None:
    """[[elf.refuse]] in the target's TOML: objects the check must reject, proof that it can fail."""
    if not target.elf.refuse:
        pytest.skip(f"{target.source.name} declares no [[elf.refuse]] objects")
    for number, refused in enumerate(target.elf.refuse):
        wrong = compile_object(backend, target, scratch_dir, f"refused{number}", refused.flags)
        with pytest.raises(ElfMismatchError, match=re.escape(refused.error)):
            check_elf(target, wrong)


def test_simd_kernels_contain_vector_fmas(build_result: BuildResult, target: Target, backend: Backend) -> None:
    reports = check_kernel_fmas(target, backend, build_result.build_dir / LIBRARY_NAME)
    if not target.simd_isas:
        assert reports == []
    for isa in target.simd_isas:
        for kind in KINDS_NEEDING_FMA:
            if kind not in isa.ref_kinds:  # a kind a port in progress leaves to ref has no kernel yet
                assert any(r.fma_count for r in reports if r.function.startswith(f"{isa.name}_{kind}"))


def test_prepare_describes_compiler_and_emulator_versions(target: Target, backend: Backend) -> None:
    text = backend.prepare(target)
    assert f"compiler: {' '.join(target.compiler_command())}" in text
    # The compiler's own --version line, with its version number.
    assert any(re.search(r"\b\d+\.\d+", line) for line in text.splitlines() if "compiler:" not in line)
    if target.emulator is None:
        assert "emulator: none (runs natively)" in text
    else:
        assert f"emulator: {' '.join(target.emulator_command())}" in text
        # QEMU's --version line: "qemu-riscv64 version 7.2.22", "QEMU emulator version 7.2.22" (system mode)
        assert re.search(r"(qemu-\S+|QEMU emulator) version \d", text)


def test_build_then_elf_check_tasks(build_result: BuildResult, target: Target, backend: Backend) -> None:
    built = run_invoke("build", "--arch", target.name, "--toolchain", backend.name)
    assert built.returncode == 0, built.stderr
    assert f"{target.name}:" in built.stdout and "ELF checks passed" in built.stdout
    checked = run_invoke("elf-check", "--arch", target.name, "--toolchain", backend.name)
    assert checked.returncode == 0, checked.stderr
    assert target.elf.machine in checked.stdout


def test_host_toolchain_is_complete(target: Target, backend: Backend) -> None:
    if backend.name != "host":
        pytest.skip("the host toolchain is not in use (the Docker image is checked by prepare)")
    assert packages_to_install([target]) == []
    result = run_invoke("toolchain.check", "--arch", target.name)
    assert result.returncode == 0, result.stderr
    assert f"{target.name} (host)" in result.stdout


def test_builds_and_passes_ctest_without_the_harness(target: Target, backend: Backend, scratch_dir: Path) -> None:
    """The documented no-harness flow: cmake with the target's toolchain file, then ctest, which
    runs the self-test (under QEMU for a cross target, at every declared vector length). On the
    host that is the committed toolchains/<target>.cmake; in a container, the same file rendered
    for the image's compilers."""
    if backend.name == "host":
        toolchain = committed_toolchain_path(target)
    else:
        toolchain = scratch_dir / "toolchain.cmake"
        toolchain.write_text(render_toolchain(target))
    build_dir = scratch_dir / "build"
    # Variants whose kernel table this CPU lacks (AVX-512 here, say) are left out of ctest's run.
    lacking = [v.suffix for v in target.variants() if missing_cpu_flags(target, v)]
    exclude = ["-E", f"^selftest@({'|'.join(lacking)})$"] if lacking else []
    for argv in (
        ["cmake", "-S", str(REPO_ROOT), "-B", str(build_dir), "-G", "Ninja", f"-DCMAKE_TOOLCHAIN_FILE={toolchain}"],
        ["cmake", "--build", str(build_dir)],
        ["ctest", "--test-dir", str(build_dir), "--output-on-failure", "-V", *exclude],
    ):
        result = backend.run(target, argv, REPO_ROOT)
        assert result.returncode == 0, f"{' '.join(argv)}:\n{result.output}"
    runnable = len(target.variants()) - len(lacking)
    assert f"100% tests passed, 0 tests failed out of {runnable}" in result.output
    if target.emulator is not None:
        assert target.emulator.binary in result.output  # the test really went through the emulator
