/* small_peak: the single-core fp32 FMA peak of this CPU for the vector width of this build, the
 * yardstick of `invoke bench`. A measurement tool, not a kernel: independent FMA chains (more than
 * FMA latency x FMA ports) so that throughput, not latency, bounds the loop.
 * Prints one line: "peak GFLOPS_MEDIAN GFLOPS_MAX lanes N chains N" over BATCHES timed batches. */
#define _POSIX_C_SOURCE 199309L
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if defined(__AVX512F__)
typedef __m512 vec;
#define LANES 16
#define CHAINS 24 /* of 32 registers */
#define SPLAT(x) _mm512_set1_ps(x)
#define FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define SUM(v) _mm512_reduce_add_ps(v)
#elif defined(__AVX2__) && defined(__FMA__)
typedef __m256 vec;
#define LANES 8
#define CHAINS 12 /* of 16 registers */
#define SPLAT(x) _mm256_set1_ps(x)
#define FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
static float SUM(vec v) {
    float lanes[LANES], s = 0;
    _mm256_storeu_ps(lanes, v);
    for (int i = 0; i < LANES; ++i) s += lanes[i];
    return s;
}
#else
#error "small_peak needs AVX2 + FMA or AVX-512F (build it with the x86 target's kernel flags)"
#endif

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

/* One batch: GFLOP/s of ITERATIONS x CHAINS FMAs; the sum keeps the compiler from dropping them. */
static double batch(float seed, float *sink) {
    vec acc[CHAINS];
    const vec m = SPLAT(0.999999f), a = SPLAT(1e-7f);
    for (int c = 0; c < CHAINS; ++c) acc[c] = SPLAT(seed + (float)c);
    const double start = now_s();
    for (int i = 0; i < ITERATIONS; ++i)
#pragma GCC unroll 32
        for (int c = 0; c < CHAINS; ++c) acc[c] = FMA(acc[c], m, a);
    const double elapsed = now_s() - start;
    for (int c = 0; c < CHAINS; ++c) *sink += SUM(acc[c]);
    return 2.0 * LANES * CHAINS * (double)ITERATIONS / elapsed * 1e-9;
}

int main(int argc, char **argv) {
    float sink = 0;
    double gflops[BATCHES];
    batch((float)argc, &sink); /* warm-up: clocks up, code and data in cache */
    for (int b = 0; b < BATCHES; ++b) gflops[b] = batch((float)(argc + b), &sink);
    qsort(gflops, BATCHES, sizeof gflops[0], by_value);
    printf("peak %.2f %.2f lanes %d chains %d\n", gflops[BATCHES / 2], gflops[BATCHES - 1], LANES, CHAINS);
    (void)argv;
    return sink == 12345.0f; /* practically never: only to use the sum */
}
