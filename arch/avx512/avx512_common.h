/* What the AVX-512 kernels share: lane masks for partial vectors, masked or plain loads and
 * stores, and the vectorised epilogue. Everything is always_inline so that each kernel entry point
 * holds its own code (the ELF check looks for the FMAs in the avx512_<kind> functions). */
#ifndef AVX512_COMMON_H
#define AVX512_COMMON_H

#include <immintrin.h>
#include <math.h>

#include "small_kernel.h"

#define AVX512_INLINE static inline __attribute__((always_inline))
/* Loops over register-tile dimensions must unroll completely, or the accumulator arrays would
 * live in memory instead of registers. */
#define AVX512_UNROLL _Pragma("GCC unroll 16")

enum { AVX512_LANES = 16 };

/* Lanes [0, n) set, n taken as 0 below 0 and as 16 above 16. */
AVX512_INLINE __mmask16 avx512_lanes(int n) {
    return n <= 0 ? 0 : n >= AVX512_LANES ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
}

/* A masked load reads nothing beyond the lanes in `mask` (no fault past the end of a tensor);
 * `masked` (a constant at every call) picks it or a plain load. */
AVX512_INLINE __m512 avx512_load(const float *p, int masked, __mmask16 mask) {
    return masked ? _mm512_maskz_loadu_ps(mask, p) : _mm512_loadu_ps(p);
}

AVX512_INLINE void avx512_store(float *p, __m512 v, int masked, __mmask16 mask) {
    if (masked) _mm512_mask_storeu_ps(p, mask, v);
    else _mm512_storeu_ps(p, v);
}

/* The activation of a tile as vector constants, built once per tile. */
typedef struct {
    __m512 lo, hi, alpha;
    int clamp, leaky;
} avx512_epilogue;

AVX512_INLINE avx512_epilogue avx512_epilogue_of(const small_tile *t) {
    avx512_epilogue e;
    e.clamp = t->activation == SMALL_ACT_RELU || t->activation == SMALL_ACT_RELU6;
    e.leaky = t->activation == SMALL_ACT_LEAKY_RELU;
    e.lo = _mm512_setzero_ps();
    e.hi = _mm512_set1_ps(t->activation == SMALL_ACT_RELU6 ? 6.0f : INFINITY);
    e.alpha = _mm512_set1_ps(t->alpha);
    return e;
}

/* small_activate, 16 lanes at a time. max(v, 0) returns 0 for NaN, as the scalar v > 0 test does. */
AVX512_INLINE __m512 avx512_activate(__m512 v, const avx512_epilogue *e) {
    if (e->clamp) v = _mm512_min_ps(_mm512_max_ps(v, e->lo), e->hi);
    if (e->leaky) v = _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, e->lo, _CMP_LT_OQ), v, e->alpha);
    return v;
}

void avx512_conv_12x32(const small_tile *t);
void avx512_dwconv_6x128(const small_tile *t);
void avx512_maxpool_6x128(const small_tile *t);
void avx512_avgpool_6x128(const small_tile *t);
void avx512_add_6x128(const small_tile *t);
void avx512_copy_6x128(const small_tile *t);

#endif
