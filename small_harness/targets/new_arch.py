"""`invoke new-arch` and `invoke new-isa`: the first step of a port, as data. new-arch writes
toolchains/<name>.toml for a GNU triple, every field derived from the triple (small_harness/
machines.toml) or given, none copied from another target; new-isa adds a kernel table to an existing
target. Either writes arch/<isa>/<isa>.c with the template's primitives left to fill in. Until they
are, the table provides no kernel and every kind runs arch/ref's (the TOML's ref_kinds says so), so
the result builds and passes at once; the porter then fills in the primitives, empties ref_kinds and
runs `invoke test`."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from small_harness.core.errors import HarnessError
from small_harness.core.tools import apt_missing
from small_harness.targets.toml_file import KNOWN_RELEASES, UNAVAILABLE, board_facts, host_release, machine_facts
from small_harness.targets.types import REF_ISA, SIMD_KINDS
from small_harness.core.paths import REPO_ROOT
from small_harness.targets.registry import TOOLCHAINS_DIR

ARCH_DIR = REPO_ROOT / "arch"
TEMPLATES = {"fixed": "simd_fixed.h", "vla": "simd_vla.h", "ref": None}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_TARGET_NAME = re.compile(r"^[a-z][a-z0-9_.-]*$")


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(f'"{value}"' for value in values) + "]"


def isa_table(isa: str, flags: list[str], fma: list[str], cpu: str, vlens: list[int], fallback_cpu: str = "") -> str:
    """The [isa.<isa>] table of a port in progress: every kind left to arch/ref until it is ported."""
    lines = [f"[isa.{isa}]", f"flags = {_toml_list(flags)}",
             f"# The mnemonic prefixes of the ISA's vector FMA: the FMA check looks for them in {isa}_conv,",
             f"# {isa}_dwconv and {isa}_fc.", f"fma_mnemonics = {_toml_list(fma)}"]
    if cpu:
        lines += ["# QEMU's CPU for this table's variants" + ("; {vlen} takes each of vlens." if vlens else "."),
                  f'cpu = "{cpu}"']
    if vlens:
        lines.append(f"vlens = [{', '.join(str(v) for v in vlens)}]")
    if fallback_cpu:
        lines += ["# A QEMU CPU without this table: there the same build must take the next table by itself.",
                  f'fallback_cpu = "{fallback_cpu}"']
    lines += ["# A port in progress: these kinds still run arch/ref. Remove each as its kernels arrive; the tests",
              "# fail if a kind listed here runs the ISA's code, or one not listed does not.",
              f"ref_kinds = {_toml_list(list(SIMD_KINDS))}"]
    return "\n".join(lines) + "\n"


def _region(region: dict[str, object]) -> str:
    return f'{{ name = "{region["name"]}", origin = {int(region["origin"]):#010x}, size = {int(region["size"]):#x} }}'


def bare_metal_toml(name: str, triple: str, facts: dict[str, Any], isa: str, like: str, cflags: list[str],
                    isa_flags: list[str], fma: list[str], cpu: str, description: str, aliases: list[str],
                    machine: str) -> str:
    """A bare-metal target: the board's CPU and memory map from small_harness/boards.toml."""
    board = board_facts().get(machine)
    if board is None:
        raise HarnessError(f"{triple} is bare metal: --machine must name a QEMU board of small_harness/targets/boards.toml "
                           f"(known: {', '.join(board_facts())}), or add a table for yours")
    isas = [REF_ISA] if like == "ref" else [isa]
    description = description or f"{name}: {triple}, bare metal, under {facts['qemu']} on {machine}"
    packages = (f"compiler = {_toml_list(facts['compiler_packages'])}\n"
                f"emulator = {_toml_list(facts['emulator_packages'])}\n")
    text = f"""# {name}: written by `invoke new-arch {name} --triple {triple} --machine {machine}`; every field below
# comes from the triple (small_harness/targets/machines.toml), the board (small_harness/targets/boards.toml) or the
# command line.
name = "{name}"
aliases = {_toml_list(aliases)}
description = "{description}"
kernel_isas = {_toml_list(isas)}

"""
    if like != "ref":
        text += isa_table(isa, isa_flags, fma, "", []) + "\n"
    model = f"model = {_region(board['model'])}\n" if "model" in board else ""
    float_abi: tuple[str, str] | None = None
    if facts["machine"] == "EM_ARM" and "-mfloat-abi=hard" in cflags:
        # The ELF check then tells it from a soft-float build (and from targets of another float ABI).
        float_abi = ('arm_float_abi = "hard"\n', '\n[[elf.refuse]]\nflags = ["-mfloat-abi=softfp"]\n'
                     'error = "ARM float ABI soft, expected hard"\n')
    text += f"""[compiler]
cc = "{triple}-gcc"
flags = {_toml_list(cflags + list(facts['cflags']))}
link_flags = {_toml_list(list(facts['link_flags']))}
helper_programs = []

[cmake]
system_processor = "{facts['processor']}"

[emulator]
binary = "{facts['qemu']}"
machine = "{machine}"
cpu = "{cpu or board['cpu']}"

[board]
stack_bytes = {int(board['stack_bytes']):#x}
code = {_region(board['code'])}
{model}ram = {_region(board['ram'])}
test_ram = {_region(board['test_ram'])}

[elf]
machine = "{facts['machine']}"
class = {facts['class']}
byte_order = "{facts['byte_order']}"
{float_abi[0] if float_abi else ""}objdump = "{triple}-objdump"
{float_abi[1] if float_abi else ""}
[host.packages]
{packages}
[docker.packages]
{packages}"""
    return text


def target_toml(name: str, triple: str, isa: str, like: str, cflags: list[str], isa_flags: list[str],
                fma: list[str], cpu: str, vlens: list[int], description: str, aliases: list[str],
                machine: str = "") -> str:
    facts = machine_facts().get(triple)
    if facts is None:
        raise HarnessError(f"no facts for the triple {triple} in small_harness/targets/machines.toml; add a table for it "
                           f"(known: {', '.join(machine_facts())})")
    if facts.get("bare_metal"):
        return bare_metal_toml(name, triple, facts, isa, like, cflags, isa_flags, fma, cpu, description, aliases,
                               machine)
    if machine:
        raise HarnessError(f"--machine is for bare-metal triples (arm-none-eabi); {triple} runs under QEMU user mode")
    isas = [REF_ISA] if like == "ref" else [isa]
    description = description or f"{name}: {triple}, Linux, under {facts['qemu']}"
    abi = ""
    if facts["machine"] == "EM_PPC64":  # ELFv2 on little-endian ppc64 Linux, ELFv1 on big-endian
        abi = f"ppc64_abi = {2 if facts['byte_order'] == 'little' else 1}\n"
    packages = (f'compiler = ["gcc-{triple}"]\nsysroot = ["libc6-dev-{facts["debian_arch"]}-cross"]\n'
                'emulator = ["qemu-user"]\n')
    text = f"""# {name}: written by `invoke new-arch {name} --triple {triple}`; every field below comes from the
# triple (small_harness/targets/machines.toml) or from the command line.
name = "{name}"
aliases = {_toml_list(aliases)}
description = "{description}"
kernel_isas = {_toml_list(isas)}

"""
    if like != "ref":
        text += isa_table(isa, isa_flags, fma, "", vlens if like == "vla" else []) + "\n"
    text += f"""[compiler]
cc = "{triple}-gcc"
flags = {_toml_list(cflags)}
link_flags = []
helper_programs = []
sysroot = "/usr/{triple}"

[cmake]
system_processor = "{facts['processor']}"

[emulator]
binary = "{facts['qemu']}"
cpu = "{cpu or 'max'}"

[elf]
machine = "{facts['machine']}"
class = {facts['class']}
byte_order = "{facts['byte_order']}"
{abi}objdump = "{triple}-objdump"
# Add [[elf.refuse]] tables: flags that build an object the ELF check must reject (another ABI, byte
# order or width), with the error it must give; see toolchains/riscv64.toml.

[host.packages]
{packages}
# The Docker backend's image (Debian 13 trixie): packages installed in it.
[docker.packages]
{packages}"""
    return text


def host_packages_note(text: str) -> str:
    """What to add to a new TOML after asking this machine's apt for its [host.packages]: nothing when
    apt knows them all, a [host.<release>] unavailable declaration when it lacks some (the host backend
    then skips the target on this release, naming Docker as its route), and a comment when apt cannot
    tell. Says which on stdout."""
    packages = [name for values in tomllib.loads(text).get("host", {}).get("packages", {}).values() for name in values]
    missing = apt_missing(packages)
    release = host_release()
    if missing is None:
        print(f"apt: could not check the package names {', '.join(packages)} (no apt-cache, or no package lists: "
              "run apt-get update); check them, and see docs/PORTING.md for a release that lacks them")
        return ""
    if not missing:
        print(f"apt: this machine's release ({release or 'unknown'}) has {', '.join(packages)}")
        return ""
    if release not in KNOWN_RELEASES:
        print(f"apt: this machine's release ({release or 'unknown'}) lacks {', '.join(missing)}; the TOML can only "
              f"declare that for {', '.join(KNOWN_RELEASES)}")
        return ""
    print(f"apt: this machine's release ({release}) lacks {', '.join(missing)}: wrote [host.{release}] {UNAVAILABLE}, "
          "so the host backend skips the target here and its route is --toolchain docker")
    return (f"\n# Checked by `invoke new-arch` with apt-cache: {release} lacks these packages; the host backend skips "
            f"the target here,\n# saying so, and its route is the Docker toolchain.\n[host.{release}]\n"
            f'{UNAVAILABLE} = "this release has no {" or ".join(missing)}"\n')


def arch_skeleton(isa: str, like: str) -> str:
    """arch/<isa>/<isa>.c: the template's primitives to fill in, inactive until SMALL_PORT_READY."""
    if like == "fixed":
        primitives = f"""#include <...>                  /* TODO: the ISA's intrinsics header */

#define SIMD_ISA {isa}
#define SIMD_LANES 4                    /* TODO: floats per vector */
#define SIMD_CONV_PIXELS 8              /* TODO: the conv register tile: PIXELS x CHANNELS/LANES */
#define SIMD_CONV_CHANNELS 8            /*       accumulators, plus weights, within the registers */
#define SIMD_CONV_SPLITS 4
#define SIMD_CW_PIXELS 8
#define SIMD_CW_CHANNELS 32
#define SIMD_PEAK_CHAINS 16

typedef TODO simd_v;
typedef TODO simd_tail;                 /* a mask, or the lane count */
#define simd_tail_of(n) TODO
#define simd_load(p) TODO
#define simd_store(p, v) TODO
#define simd_load_tail(p, tail) TODO    /* reads only the tail's lanes */
#define simd_store_tail(p, v, tail) TODO
#define simd_zero() TODO
#define simd_dup(x) TODO
#define simd_fma(acc, a, b) TODO        /* acc + a * b, fused */
#define simd_add(a, b) TODO
#define simd_mul(a, b) TODO
#define simd_max(a, b) TODO             /* NaN if either is NaN */
#define simd_min(a, b) TODO
#define simd_neg_select(v, a) TODO      /* a where v < 0, else v */
static int simd_supported(void) {{ return TODO; }}

#include "simd_fixed.h\""""
        example = "arch/avx2/avx2.c and arch/neon/neon_simd.h"
    else:
        primitives = f"""#include <...>                  /* TODO: the ISA's intrinsics header */

#define VLA_ISA {isa}
#define VLA_VECTOR "vl"                 /* how kernel names call a vector */
#define VLA_CONV_PIXELS 7               /* TODO: accumulators that fit the registers, 1 to 8 */
#define VLA_WINDOW_PIXELS 4
#define VLA_PEAK_CHAINS 8

typedef TODO vla_v;
typedef TODO vla_tail;                  /* a vector length, or a predicate */
static int vla_lanes(void) {{ return TODO; }}
#define vla_tail_of(n) TODO
#define vla_load(p, tail) TODO
#define vla_store(p, v, tail) TODO
#define vla_dup(x, tail) TODO
#define vla_fma_scalar(acc, w, x, tail) TODO  /* acc + w * x, x a float */
#define vla_fma(acc, a, b, tail) TODO
#define vla_add(a, b, tail) TODO
#define vla_mul_scalar(a, x, tail) TODO
#define vla_max(a, b, tail) TODO        /* NaN if either is NaN */
#define vla_min(a, b, tail) TODO
#define vla_neg_select(v, a, tail) TODO
static int vla_supported(void) {{ return TODO; }}

#include "simd_vla.h\""""
        example = "arch/rvv/rvv.c"
    return f"""/* {isa}: a port in progress, written by `invoke new-arch`. Until SMALL_PORT_READY is defined the table
 * below provides no kernel, and every kind runs arch/ref's, as ref_kinds in the target's TOML says.
 *
 * To port: fill in the primitives (arch/template/{TEMPLATES[like]} says what each must do; {example}
 * are complete examples), define SMALL_PORT_READY, empty ref_kinds, and run `invoke test --arch <target>`. */
#ifdef SMALL_PORT_READY
{primitives}
#else
#include "small_kernel.h"

static int {isa}_pending(void) {{ return 1; }}
const small_kernel_table small_table_{isa} = {{"{isa}", {isa}_pending, {{0}}, 0}};
#endif
"""


def _check_names(isa: str, like: str) -> None:
    if like not in TEMPLATES:
        raise HarnessError(f"--like {like}: choose one of {', '.join(TEMPLATES)}")
    if like != "ref" and (not _NAME.match(isa) or isa == REF_ISA):
        raise HarnessError(f"--isa {isa!r}: a lowercase C identifier other than {REF_ISA}, e.g. vsx")


def write_arch(isa: str, like: str) -> Path:
    folder = ARCH_DIR / isa
    if folder.exists():
        raise HarnessError(f"arch/{isa}/ exists already: choose another --isa")
    folder.mkdir(parents=True)
    path = folder / f"{isa}.c"
    path.write_text(arch_skeleton(isa, like))
    return path


def new_arch(name: str, triple: str, isa: str, like: str, cflags: list[str], isa_flags: list[str], fma: list[str],
             cpu: str, description: str, aliases: list[str], machine: str = "") -> list[Path]:
    """Writes toolchains/<name>.toml (and arch/<isa>/<isa>.c unless --like ref); returns what it wrote."""
    if not _TARGET_NAME.match(name):
        raise HarnessError(f"{name!r}: a target name is lowercase letters, digits, '.', '_' and '-'")
    _check_names(isa, like)
    if like != "ref" and not fma:
        raise HarnessError("--fma is required: the mnemonic prefix of the ISA's vector FMA (e.g. xvmadd), which the "
                           "FMA check looks for in the disassembly")
    path = TOOLCHAINS_DIR / f"{name}.toml"
    if path.exists():
        raise HarnessError(f"toolchains/{name}.toml exists already")
    text = target_toml(name, triple, isa, like, cflags, isa_flags, fma, cpu, [], description, aliases, machine)
    text += host_packages_note(text)
    written = [path]
    if like != "ref":
        written.append(write_arch(isa, like))
    path.write_text(text)
    return written


def new_isa(target_name: str, isa: str, like: str, isa_flags: list[str], fma: list[str], cpu: str,
            vlens: list[int], fallback_cpu: str = "") -> list[Path]:
    """Adds the kernel table `isa` to an existing target, best first, and writes arch/<isa>/<isa>.c."""
    _check_names(isa, like)
    if like == "ref":
        raise HarnessError("--like ref: arch/ref's table is in every build already")
    if not fma:
        raise HarnessError("--fma is required: the mnemonic prefix of the ISA's vector FMA (e.g. fmla)")
    if not fallback_cpu:
        raise HarnessError("--fallback-cpu is required: a QEMU -cpu of the target's machine without the new table "
                           "(e.g. max,sve=off), where the build must take the next table by itself (docs/PORTING.md)")
    path = TOOLCHAINS_DIR / f"{target_name}.toml"
    if not path.is_file():
        raise HarnessError(f"no toolchains/{target_name}.toml")
    text = path.read_text()
    match = re.search(r"^kernel_isas = \[(.*)\]$", text, flags=re.M)
    if match is None:
        raise HarnessError(f"toolchains/{target_name}.toml: no one-line kernel_isas = [...] to add {isa} to")
    names = [word.strip().strip('"') for word in match.group(1).split(",") if word.strip()]
    if isa in names:
        raise HarnessError(f"{target_name} has the kernel table {isa} already")
    # The new table goes before the first table of the file, so that no top-level key falls into it.
    first_table = re.search(r"^\[", text[match.end():], flags=re.M)
    at = match.end() + (first_table.start() if first_table else len(text) - match.end())
    text = (text[:match.start()] + f"kernel_isas = {_toml_list([isa, *names])}" + text[match.end():at]
            + isa_table(isa, isa_flags, fma, cpu, vlens, fallback_cpu) + "\n" + text[at:])
    written = [write_arch(isa, like), path]
    path.write_text(text)
    return written
