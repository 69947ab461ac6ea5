/* AVX-512F (x86-64, 16 floats): the primitives of arch/template/simd_fixed.h. A partial vector is a
 * masked load or store, which reads and writes nothing beyond its lanes. */
#include <immintrin.h>

#define SIMD_ISA avx512
#define SIMD_LANES 16
/* 32 registers: the conv tile's 24 accumulators, 2 weight vectors and the broadcast inputs. 12
 * pixels rather than 6 halve the weight bytes per FMA (a 3x3x64 block of 32 channels is 72 KiB,
 * more than L1: the weights stream from L2 for every tile). */
#define SIMD_CONV_PIXELS 12
#define SIMD_CONV_CHANNELS 32
#define SIMD_CW_PIXELS 12
#define SIMD_DW_ROW_VECTORS 2
#define SIMD_CW_CHANNELS 128
#define SIMD_PEAK_CHAINS 24
/* A depthwise row's input column feeds three FMAs from one register: GCC 12 would otherwise fold the
 * load into each of them, reading it three times (a 12x128 tile in L1: 135 -> 157 GFLOP/s). */
#define SIMD_KEEP_IN_REGISTER(v) __asm__("" : "+v"(v))

typedef __m512 simd_v;
typedef __mmask16 simd_tail;

#define simd_tail_of(n) ((__mmask16)((1u << (n)) - 1u))
#define simd_load(p) _mm512_loadu_ps(p)
#define simd_store(p, v) _mm512_storeu_ps(p, v)
#define simd_load_tail(p, tail) _mm512_maskz_loadu_ps(tail, p)
#define simd_store_tail(p, v, tail) _mm512_mask_storeu_ps(p, tail, v)
#define simd_zero() _mm512_setzero_ps()
#define simd_dup(x) _mm512_set1_ps(x)
#define simd_fma(acc, a, b) _mm512_fmadd_ps(a, b, acc)
#define simd_add(a, b) _mm512_add_ps(a, b)
#define simd_mul(a, b) _mm512_mul_ps(a, b)
#define simd_sub(a, b) _mm512_sub_ps(a, b)
/* 3x3 stride-1 convs through Winograd F(2x2, 3x3) (lib/src/winograd.c). */
#define SIMD_WINOGRAD
/* maxps and minps return the second operand when either is NaN: keep a NaN first operand too; with
 * a constant first, the second is all it takes. */
static inline simd_v simd_keep_nan(simd_v r, simd_v a) { return _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q), a); }
static inline simd_v simd_max(simd_v a, simd_v b) { return simd_keep_nan(_mm512_max_ps(a, b), a); }
static inline simd_v simd_min(simd_v a, simd_v b) { return simd_keep_nan(_mm512_min_ps(a, b), a); }
#define simd_max_const(c, v) _mm512_max_ps(c, v)
#define simd_min_const(c, v) _mm512_min_ps(c, v)
#define simd_neg_select(v, a) _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ), a)
/* The n floats at p in every n lanes (n = 8 or 4, a constant after inlining): one broadcast load. */
#define SIMD_LOAD_REPEAT
static inline simd_v simd_load_repeat(const float *p, int n) {
    if (n == 8) return _mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_loadu_pd((const double *)p)));
    return _mm512_broadcast_f32x4(_mm_loadu_ps(p));
}
/* conv of 8 output channels (SIMD_PAIRS in simd_fixed.h): lanes in pairs. */
#define SIMD_PAIRS
/* The 2 floats at p in every pair of lanes: one broadcast load. */
static inline simd_v simd_load_pair_repeat(const float *p) {
    double d;
    __builtin_memcpy(&d, p, sizeof d);
    return _mm512_castpd_ps(_mm512_set1_pd(d));
}
/* The float at p in the even lanes, 0 in the odd ones. */
static inline simd_v simd_load_even_repeat(const float *p) { return _mm512_maskz_broadcastss_ps(0x5555, _mm_load_ss(p)); }
/* Two runs of 8 at p, a and b, zipped: a0 b0 a1 b1 ... */
static inline simd_v simd_load_zip_halves(const float *p) {
    return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15), _mm512_loadu_ps(p));
}
/* The 8 floats at p in the even lanes, 0 in the odd ones. */
static inline simd_v simd_load_zip_zero(const float *p) {
    return _mm512_maskz_permutexvar_ps(0x5555, _mm512_setr_epi32(0, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0),
                                       _mm512_castps256_ps512(_mm256_loadu_ps(p)));
}
/* Lane pairs summed: those of a in lanes 0-7, those of b in 8-15. */
static inline simd_v simd_add_pairs(simd_v a, simd_v b) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    return _mm512_add_ps(_mm512_permutex2var_ps(a, even, b), _mm512_permutex2var_ps(a, odd, b));
}
static int simd_supported(void) { return __builtin_cpu_supports("avx512f"); }

#include "simd_fixed.h"
