/* small_peak: the single-core fp32 FMA peak of this CPU, the yardstick of `invoke bench`, measured
 * with the probe of the first kernel table in force (SMALL_KERNELS picks another): independent
 * vector FMA chains, written once in arch/template/ for every fixed-width ISA. This file only times.
 * Prints one line: "peak GFLOPS_MEDIAN GFLOPS_MAX isa NAME" over BATCHES timed batches. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "small.h"

enum { BATCHES = 21, ITERATIONS = 2000000 };

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int by_value(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    const char *kernels = getenv("SMALL_KERNELS");
    small_message why;
    if (kernels && small_select_kernels(kernels, &why) != SMALL_OK) {
        fprintf(stderr, "small_peak: SMALL_KERNELS=%s: %s\n", kernels, why.text);
        return 2;
    }
    float sink = (float)argc;
    const char *isa = "";
    double gflops[BATCHES];
    if (small_kernel_peak(ITERATIONS, &sink, &isa) == 0.0) { /* also the warm-up: clocks up, code in cache */
        fprintf(stderr, "small_peak: no kernel table in force (%s) has an FMA-peak probe\n", small_selected_kernels());
        return 2;
    }
    for (int b = 0; b < BATCHES; ++b) {
        const double start = now_s();
        const double flops = small_kernel_peak(ITERATIONS, &sink, &isa);
        gflops[b] = flops / (now_s() - start) * 1e-9;
    }
    qsort(gflops, BATCHES, sizeof gflops[0], by_value);
    printf("peak %.2f %.2f isa %s\n", gflops[BATCHES / 2], gflops[BATCHES - 1], isa);
    (void)argv;
    return sink == 12345.0f; /* practically never: only to use the sum */
}
