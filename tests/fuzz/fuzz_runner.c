/* libFuzzer target: the runner's wire protocol on any byte stream, served to its end as small_runner
 * would serve stdin (replies go to /dev/null). Built natively with ASan and UBSan by `invoke fuzz`. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>

#include "small.h"
#include "small_runner.h"

static FILE *sink;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const small_limits limits = {64u << 20, 64u << 20};
    small_set_limits(&limits);
    sink = fopen("/dev/null", "wb");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    FILE *in = fmemopen((void *)data, size, "rb");
    if (!in) return 0;
    small_runner_serve(in, sink);
    fclose(in);
    return 0;
}
