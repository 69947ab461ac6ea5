"""Renders a bare-metal target's linker script from its [board] memory map: toolchains/<name>.ld,
committed beside its CMake toolchain file (which links with it) and kept in sync the same way.

The script follows the contract of picolibc's crt0 (the symbols it reads to copy .data, clear .bss,
set up TLS and find the heap and stack). It differs from picolibc's own script in one way we need:
an embedded model (section .small_model) can live in a flash region of its own, since the memory a
core boots from (the AN547's 512 KiB ITCM) is often too small for the model. RAM is the board's
`ram` unless the link defines __small_ram and __small_ram_size (the test programs take `test_ram`).
"""

from __future__ import annotations

from pathlib import Path

from small_harness.targets.types import Board, Target
from small_harness.targets.registry import TOOLCHAINS_DIR

MODEL_SECTION = ".small_model"


def committed_linker_script_path(target: Target) -> Path:
    return TOOLCHAINS_DIR / f"{target.name}.ld"


def ram_defsym_flags(board: Board) -> list[str]:
    """Link flags that put a program's RAM in the board's test RAM."""
    return [f"-Wl,--defsym=__small_ram={board.test_ram.origin:#x}",
            f"-Wl,--defsym=__small_ram_size={board.test_ram.size:#x}"]


def render_linker_script(target: Target) -> str:
    board = target.board
    assert board is not None, f"{target.name} is not a bare-metal target"
    model_region = "model_flash" if board.model is not None else "code"
    memory = [f"    code (rx!w) : ORIGIN = {board.code.origin:#010x}, LENGTH = {board.code.size:#x}  /* {board.code.name} */"]
    if board.model is not None:
        memory.append(f"    model_flash (r) : ORIGIN = {board.model.origin:#010x}, LENGTH = {board.model.size:#x}"
                      f"  /* {board.model.name} */")
    memory.append(f"    ram (w!rx) : ORIGIN = DEFINED(__small_ram) ? __small_ram : {board.ram.origin:#010x},\n"
                  f"                 LENGTH = DEFINED(__small_ram_size) ? __small_ram_size : {board.ram.size:#x}"
                  f"  /* {board.ram.name}, or the test RAM ({board.test_ram.name}) */")
    memory_block = "\n".join(memory)
    return f"""/* Linker script for {target.name}: {target.description}.
 * Generated from toolchains/{target.name}.toml ([board]) by `invoke generate`; do not edit by hand.
 * Follows picolibc's crt0 contract; see small_harness/generate/linker_script.py. */
ENTRY(_start)

MEMORY
{{
{memory_block}
}}

PHDRS
{{
    text PT_LOAD;
    model PT_LOAD;
    ram_init PT_LOAD;
    ram PT_LOAD;
    tls PT_TLS;
}}

SECTIONS
{{
    /* The vector table first: the core reads its stack pointer and reset address from there. */
    .text : {{
        KEEP(*(.text.init.enter))
        KEEP(*(.data.init.enter))
        KEEP(*(SORT_BY_NAME(.init) SORT_BY_NAME(.init.*)))
        *(.text.unlikely .text.unlikely.*)
        *(.text.startup .text.startup.*)
        *(.text .text.*)
        KEEP(*(.fini .fini.*))
        *(.rodata .rodata.*)
        *(.data.rel.ro .data.rel.ro.*)
        *(.got .got.*)
        . = ALIGN(8);
        PROVIDE_HIDDEN(__preinit_array_start = .);
        KEEP(*(.preinit_array))
        PROVIDE_HIDDEN(__preinit_array_end = .);
        PROVIDE_HIDDEN(__init_array_start = .);
        KEEP(*(SORT_BY_INIT_PRIORITY(.init_array.*)))
        KEEP(*(.init_array))
        PROVIDE_HIDDEN(__init_array_end = .);
        PROVIDE_HIDDEN(__fini_array_start = .);
        KEEP(*(SORT_BY_INIT_PRIORITY(.fini_array.*)))
        KEEP(*(.fini_array))
        PROVIDE_HIDDEN(__fini_array_end = .);
    }} >code AT>code :text

    /* An embedded model file (lib/runner/firmware.c), read in place. */
    {MODEL_SECTION} : {{
        KEEP(*({MODEL_SECTION} {MODEL_SECTION}.*))
    }} >{model_region} AT>{model_region} :model

    /* Initialised data: stored in flash after the code, copied to RAM by crt0. */
    .data : ALIGN_WITH_INPUT {{
        *(.data .data.*)
        . = ALIGN(8);
    }} >ram AT>code :ram_init
    .tdata : ALIGN_WITH_INPUT {{
        *(.tdata .tdata.*)
        __data_end = .;
    }} >ram AT>code :tls :ram_init
    __data_start = ADDR(.data);
    __data_source = LOADADDR(.data);
    __data_size = __data_end - __data_start;
    __tls_base = ADDR(.tdata);
    __tdata_size = SIZEOF(.tdata);

    /* Thread-local zeros, then the rest of .bss: crt0 clears both from __bss_start. */
    .tbss (NOLOAD) : {{
        *(.tbss .tbss.*)
        *(.tcommon)
        __tls_end = .;
    }} >ram AT>ram :tls :ram
    __bss_start = ADDR(.tbss);
    __tls_size = __tls_end - __tls_base;
    __tls_align = MAX(ALIGNOF(.tdata), ALIGNOF(.tbss));
    __arm32_tls_tcb_offset = MAX(8, __tls_align);
    /* The linker gives a TLS .tbss no room of its own; this section makes it. */
    .tbss_space (NOLOAD) : {{
        . = ADDR(.tbss) + SIZEOF(.tbss);
    }} >ram AT>ram :ram
    .bss (NOLOAD) : {{
        *(.bss .bss.*)
        *(COMMON)
        . = ALIGN(8);
        __bss_end = .;
    }} >ram AT>ram :ram
    __bss_size = __bss_end - __bss_start;
    __end = __bss_end;
    end = __bss_end;

    /* The heap between .bss and the stack, which ends RAM. */
    __stack = ORIGIN(ram) + LENGTH(ram);
    __small_stack_bytes = {board.stack_bytes:#x};
    __heap_start = __bss_end;
    __heap_end = __stack - __small_stack_bytes;
    .stack (NOLOAD) : {{
        . = ALIGN(8);
        . += __small_stack_bytes;
    }} >ram :ram
    ASSERT(__heap_end >= __heap_start, "{target.name}: .data and .bss leave no room for the stack")

    /DISCARD/ : {{
        *(.note .note.*)
        *(.eh_frame .eh_frame.*)
        *(.ARM.extab* .gnu.linkonce.armextab.*)
        *(.ARM.exidx*)
    }}
}}
"""


def write_if_changed(path: Path, text: str) -> bool:
    """Writes text to path unless the file holds it already (generated files); True when it wrote."""
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)
    return True


def write_committed_linker_scripts(targets: list[Target]) -> list[Path]:
    """Rewrite toolchains/<name>.ld of each bare-metal target; returns the files whose text changed."""
    changed = []
    for target in targets:
        if target.board is None:
            continue
        path = committed_linker_script_path(target)
        if write_if_changed(path, render_linker_script(target)):
            changed.append(path)
    return changed
