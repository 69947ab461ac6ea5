/* small_firmware: one model, embedded in flash, one inference, on a bare-metal board.
 *
 * The model file is linked in as the section .small_model (small_harness/firmware/image.py writes the
 * assembly that includes it; the board's linker script puts it in flash), pre-packed for this build
 * (small_model_write_packed), so its weights are read in place: they cost flash, not RAM.
 * The input comes on the --in stream and the output goes to the --out stream, raw little-endian
 * floats (small_harness/toolchain/semihost_run.sh turns them into stdin and stdout). On the console it prints
 * one line of what the run used:
 *   small_firmware: arena A heap H stack S kernels K
 * A: the activation arena the planner sized (bytes), a static buffer of SMALL_FIRMWARE_ARENA_BYTES
 * (the harness sizes it at build time from the planner on this target); H: the heap's high-water
 * mark (the plan: the input and the output are in the arena); S: the deepest stack the run reached,
 * measured by painting the stack before it and finding the lowest byte overwritten after. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "small.h"
#include "small_runner.h"

extern const unsigned char small_model_file[], small_model_file_end[];
/* From the board's linker script (small_harness/generate/linker_script.py): the stack is the top of RAM. */
extern char __stack[], __small_stack_bytes[], __heap_start[];

#ifndef SMALL_FIRMWARE_ARENA_BYTES
#error "define SMALL_FIRMWARE_ARENA_BYTES: the model's arena (small_model_arena_bytes)"
#endif
/* In .bss: RAM the linker accounts for, and a build that cannot fit fails to link. */
static float arena[(SMALL_FIRMWARE_ARENA_BYTES + sizeof(float) - 1) / sizeof(float)] __attribute__((aligned(64)));

enum { PAINT = 0x5A, PAINT_MARGIN = 256 /* bytes below this frame left alone */ };

/* Paints the unused stack, from its limit up to a little below the caller's frame. */
static __attribute__((noinline)) void paint_stack(void) {
    unsigned char *limit = (unsigned char *)__stack - (uintptr_t)__small_stack_bytes;
    unsigned char *here = (unsigned char *)__builtin_frame_address(0) - PAINT_MARGIN;
    for (volatile unsigned char *p = limit; p < here; ++p) *p = PAINT;
}

/* The stack bytes used since paint_stack: from the lowest overwritten byte to the top. */
static size_t stack_used(void) {
    const unsigned char *limit = (const unsigned char *)__stack - (uintptr_t)__small_stack_bytes;
    const unsigned char *p = limit;
    while (p < (const unsigned char *)__stack && *p == PAINT) ++p;
    return (size_t)((const unsigned char *)__stack - p);
}

int main(int argc, char **argv) {
    paint_stack();
    FILE *in = small_runner_stream(argc, argv, "--in=", "rb", stdin);
    FILE *out = small_runner_stream(argc, argv, "--out=", "wb", stdout);
    if (!in || !out) {
        fprintf(stderr, "small_firmware: cannot open the --in or --out stream\n");
        return 2;
    }
    small_model *model = NULL;
    small_message why = {{0}};
    small_status s = small_model_load_with_arena(&model, small_model_file,
                                                 (size_t)(small_model_file_end - small_model_file), arena, sizeof arena, &why);
    if (s != SMALL_OK) {
        fprintf(stderr, "small_firmware: the model does not load: %s\n", why.text);
        return 3;
    }
    /* The input and the output live in the arena: no buffers of the firmware's own. */
    const size_t n_in = small_shape_size(small_model_input_shape(model));
    const size_t n_out = small_shape_size(small_model_output_shape(model));
    float *input = small_model_input_buffer(model), *output = small_model_output_buffer(model);
    if (fread(input, sizeof(float), n_in, in) != n_in) {
        fprintf(stderr, "small_firmware: expected %lu input floats\n", (unsigned long)n_in);
        return 4;
    }
    s = small_model_run(model, input, output);
    if (s != SMALL_OK) {
        fprintf(stderr, "small_firmware: inference failed with status %d\n", (int)s);
        return 5;
    }
    fwrite(output, sizeof(float), n_out, out);
    fflush(out);
    const size_t heap = (size_t)((char *)sbrk(0) - __heap_start);
    printf("small_firmware: arena %lu heap %lu stack %lu kernels", (unsigned long)small_model_arena_bytes(model),
           (unsigned long)heap, (unsigned long)stack_used());
    for (int i = 0; i < small_model_layer_count(model); ++i)
        printf(" %s", small_layer_kernel_name(small_model_layer(model, i)));
    printf("\n");
    small_model_free(model);
    return 0;
}
