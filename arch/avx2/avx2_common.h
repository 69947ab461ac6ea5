/* What the AVX2 kernels share: lane masks for partial vectors, masked or plain loads and stores,
 * and the vectorised epilogue. Everything is always_inline so that each kernel entry point holds
 * its own code (the ELF check looks for the FMAs in the avx2_<kind> functions). */
#ifndef AVX2_COMMON_H
#define AVX2_COMMON_H

#include <immintrin.h>
#include <math.h>

#include "small_kernel.h"

#define AVX2_INLINE static inline __attribute__((always_inline))
/* Loops over register-tile dimensions must unroll completely, or the accumulator arrays would
 * live in memory instead of registers. */
#define AVX2_UNROLL _Pragma("GCC unroll 16")

enum { AVX2_LANES = 8 };

/* Lanes [0, n) set, n taken as 0 below 0 and as 8 above 8: the mask of maskload/maskstore. */
AVX2_INLINE __m256i avx2_lanes(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* A masked load reads nothing beyond the lanes in `mask` (no fault past the end of a tensor); a
 * plain one is cheaper, so `masked` (a constant at every call) picks. */
AVX2_INLINE __m256 avx2_load(const float *p, int masked, __m256i mask) {
    return masked ? _mm256_maskload_ps(p, mask) : _mm256_loadu_ps(p);
}

AVX2_INLINE void avx2_store(float *p, __m256 v, int masked, __m256i mask) {
    if (masked) _mm256_maskstore_ps(p, mask, v);
    else _mm256_storeu_ps(p, v);
}

/* The activation of a tile as vector constants, built once per tile. */
typedef struct {
    __m256 lo, hi, alpha;
    int clamp, leaky;
} avx2_epilogue;

AVX2_INLINE avx2_epilogue avx2_epilogue_of(const small_tile *t) {
    avx2_epilogue e;
    e.clamp = t->activation == SMALL_ACT_RELU || t->activation == SMALL_ACT_RELU6;
    e.leaky = t->activation == SMALL_ACT_LEAKY_RELU;
    e.lo = _mm256_setzero_ps();
    e.hi = _mm256_set1_ps(t->activation == SMALL_ACT_RELU6 ? 6.0f : INFINITY);
    e.alpha = _mm256_set1_ps(t->alpha);
    return e;
}

/* small_activate, 8 lanes at a time. max(v, 0) returns 0 for NaN, as the scalar v > 0 test does. */
AVX2_INLINE __m256 avx2_activate(__m256 v, const avx2_epilogue *e) {
    if (e->clamp) v = _mm256_min_ps(_mm256_max_ps(v, e->lo), e->hi);
    if (e->leaky) v = _mm256_blendv_ps(v, _mm256_mul_ps(v, e->alpha), _mm256_cmp_ps(v, e->lo, _CMP_LT_OQ));
    return v;
}

void avx2_conv_6x16(const small_tile *t);
void avx2_dwconv_6x64(const small_tile *t);
void avx2_maxpool_6x64(const small_tile *t);
void avx2_avgpool_6x64(const small_tile *t);
void avx2_add_6x64(const small_tile *t);
void avx2_copy_6x64(const small_tile *t);

#endif
