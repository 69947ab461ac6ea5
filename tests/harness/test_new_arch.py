"""`invoke new-arch` and `new-isa` write a TOML whose every field comes from the triple or the command
line (it passes the stale-field checks as written), and an arch folder with the primitives to fill
in, left to arch/ref meanwhile; the README's target table is generated from the TOMLs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from small_harness.targets import new_arch as new
from small_harness.core.errors import HarnessError
from small_harness.generate.files import BEGIN, END, README, readme_with_table, target_table
from small_harness.targets.types import SIMD_KINDS
from small_harness.targets.registry import TOOLCHAINS_DIR, load_targets
from small_harness.core.errors import MissingToolError
from small_harness.core.tools import apt_missing
from small_harness.targets.toml_file import host_release, load_target
from small_harness.toolchain.host import check_host_toolchain, packages_to_install


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """toolchains/ and arch/ of a scratch repository."""
    (tmp_path / "toolchains").mkdir()
    (tmp_path / "arch").mkdir()
    monkeypatch.setattr(new, "TOOLCHAINS_DIR", tmp_path / "toolchains")
    monkeypatch.setattr(new, "ARCH_DIR", tmp_path / "arch")
    return tmp_path


def test_new_arch_derives_every_field_from_the_triple(repo: Path) -> None:
    written = new.new_arch("ppc64le", "powerpc64le-linux-gnu", "vsx", "fixed", ["-mcpu=power9"], [], ["xvmadd"],
                           "power9", "", ["power"])
    assert [p.relative_to(repo) for p in written] == [Path("toolchains/ppc64le.toml"), Path("arch/vsx/vsx.c")]
    target = load_target(repo / "toolchains" / "ppc64le.toml", release=None)  # passes the stale-field checks
    assert (target.elf.machine, target.elf.elf_class, target.elf.byte_order, target.elf.ppc64_abi) == (
        "EM_PPC64", 64, "little", 2)
    assert (target.system_processor, target.emulator and target.emulator.binary) == ("ppc64le", "qemu-ppc64le")
    assert target.packages.sysroot == ("libc6-dev-ppc64el-cross",)
    assert target.isa("vsx").ref_kinds == SIMD_KINDS  # every kind on arch/ref until ported
    assert "SMALL_PORT_READY" in (repo / "arch" / "vsx" / "vsx.c").read_text()


def test_new_arch_for_a_big_endian_triple(repo: Path) -> None:
    new.new_arch("s390x", "s390x-linux-gnu", "zvec", "fixed", ["-march=z14"], ["-mzvector"], ["vfma"], "max", "", [])
    target = load_target(repo / "toolchains" / "s390x.toml", release=None)
    assert target.elf.byte_order == "big" and target.isa("zvec").flags == ("-mzvector",)


def test_new_arch_with_portable_kernels_only(repo: Path) -> None:
    written = new.new_arch("loong64", "loongarch64-linux-gnu", "", "ref", [], [], [], "", "", [])
    assert written == [repo / "toolchains" / "loong64.toml"]
    assert [isa.name for isa in load_target(written[0], release=None).kernel_isas] == ["ref"]


def test_new_arch_for_a_bare_metal_board_gives_the_committed_cortex_m4(repo: Path) -> None:
    """A Cortex-M target is one TOML: from the triple, the board and the core's flags, new-arch
    writes every field of toolchains/cortex-m4.toml that matters."""
    cflags = ["-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"]
    written = new.new_arch("m4", "arm-none-eabi", "", "ref", cflags, [], [], "", "", [], machine="mps2-an386")
    made = load_target(written[0], release=None)
    committed = load_target(TOOLCHAINS_DIR / "cortex-m4.toml", release=None)
    assert made.board == committed.board and made.emulator == committed.emulator
    assert set(made.compiler.flags) == set(committed.compiler.flags) and made.compiler.link_flags == \
        committed.compiler.link_flags
    assert made.packages.all() == committed.packages.all() and made.kernel_isas == committed.kernel_isas
    assert made.elf == committed.elf


def test_new_arch_for_bare_metal_needs_a_known_board(repo: Path) -> None:
    with pytest.raises(HarnessError, match="--machine must name a QEMU board of small_harness/targets/boards.toml"):
        new.new_arch("m7", "arm-none-eabi", "", "ref", [], [], [], "", "", [], machine="")
    with pytest.raises(HarnessError, match="--machine is for bare-metal triples"):
        new.new_arch("x", "s390x-linux-gnu", "", "ref", [], [], [], "", "", [], machine="mps2-an386")


@pytest.mark.parametrize(("arguments", "error"), [
    (("x", "sparc-linux-gnu", "v", "fixed"), "no facts for the triple sparc-linux-gnu"),
    (("x", "s390x-linux-gnu", "v", "wide"), "--like wide: choose one of fixed, vla, ref"),
    (("x", "s390x-linux-gnu", "Bad-Name", "fixed"), "a lowercase C identifier"),
])
def test_new_arch_refuses_what_it_cannot_derive(repo: Path, arguments: tuple[str, ...], error: str) -> None:
    with pytest.raises(HarnessError, match=error):
        new.new_arch(*arguments, [], [], ["vfma"], "", "", [])  # type: ignore[call-arg]


def test_new_arch_needs_the_fma_mnemonic(repo: Path) -> None:
    with pytest.raises(HarnessError, match="--fma is required"):
        new.new_arch("x", "s390x-linux-gnu", "zv", "fixed", [], [], [], "", "", [])


def test_new_isa_adds_a_table_first(repo: Path) -> None:
    shutil.copy(TOOLCHAINS_DIR / "riscv64.toml", repo / "toolchains")
    with pytest.raises(HarnessError, match="--fallback-cpu is required"):
        new.new_isa("riscv64", "rvx", "vla", ["-march=rv64gcv"], ["vfmacc"], "rv64,v=true,vlen={vlen}", [128, 256])
    new.new_isa("riscv64", "rvx", "vla", ["-march=rv64gcv"], ["vfmacc"], "rv64,v=true,vlen={vlen}", [128, 256],
                "rv64,v=false")
    target = load_target(repo / "toolchains" / "riscv64.toml", release=None)
    assert [isa.name for isa in target.kernel_isas] == ["rvx", "rvv"] and target.kernel_isas[0].vlens == (128, 256)
    assert [v.label for v in target.variants()][:2] == ["riscv64@rvx-vlen128", "riscv64@rvx-vlen256"]
    assert [(v.label, v.isa, v.cpu) for v in target.fallback_variants()] == [("riscv64@no-rvx", "rvv", "rv64,v=false")]
    assert "simd_vla.h" in (repo / "arch" / "rvx" / "rvx.c").read_text()
    with pytest.raises(HarnessError, match="riscv64 has the kernel table rvv already"):
        new.new_isa("riscv64", "rvv", "vla", [], ["vfmacc"], "", [], "max")


def test_new_arch_asks_apt_for_its_packages(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """On this machine's release, with its real apt: a TOML whose host packages apt lacks declares the release
    unavailable (the host backend skips it there); one whose packages apt has does not."""
    (written, *_) = new.new_arch("lx", "loongarch64-linux-gnu", "lsx", "fixed", [], ["-mlsx"], ["vfmadd"], "", "", [])
    target = load_target(written, release=host_release())
    packages = list(target.packages.all())
    missing = apt_missing(packages)
    said = capsys.readouterr().out
    if missing is None:
        assert "apt: could not check the package names" in said and not target.host_unavailable
    elif missing:
        assert f"[host.{host_release()}] unavailable" in said
        assert target.host_unavailable.startswith(f"this release has no {missing[0]}")
        assert load_target(written, release="forky" if host_release() != "forky" else "noble").host_unavailable == ""
    else:
        assert "apt: this machine's release" in said and not target.host_unavailable


def test_a_release_without_host_packages_is_skipped_on_the_host(repo: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(new, "apt_missing", lambda packages: packages[:1])
    monkeypatch.setattr(new, "host_release", lambda: "bookworm")
    (written, *_) = new.new_arch("lx", "loongarch64-linux-gnu", "lsx", "fixed", [], ["-mlsx"], ["vfmadd"], "", "", [])
    on_bookworm = load_target(written, release="bookworm")
    assert on_bookworm.host_unavailable == ("this release has no gcc-loongarch64-linux-gnu "
                                            "(this machine runs bookworm)")
    assert load_target(written, release="trixie").host_unavailable == ""
    assert load_target(written, backend="docker").host_unavailable == ""
    with pytest.raises(MissingToolError, match=r"^lx: no host toolchain here: .* --toolchain docker"):
        check_host_toolchain(on_bookworm)
    assert "lx" not in packages_to_install([on_bookworm])


def test_readme_target_table_is_in_sync() -> None:
    table = target_table(load_targets(release=None), load_targets(backend="docker"))
    text = README.read_text()
    assert readme_with_table(text, table) == text, "the README's target table is stale; run: invoke generate"
    for name in load_targets():
        assert f"| `{name}` |" in table
    assert text.count(BEGIN) == 1 and text.count(END) == 1
