/* AVX2 + FMA (x86-64, 8 floats): the primitives of arch/template/simd_fixed.h. A partial vector is
 * a masked load or store, which reads and writes nothing beyond its lanes. */
#include <immintrin.h>

#define SIMD_ISA avx2
#define SIMD_LANES 8
/* 16 registers: the conv tile's 12 accumulators, 2 weight vectors and 1 broadcast input. */
#define SIMD_CONV_PIXELS 6
#define SIMD_CONV_CHANNELS 16
#define SIMD_CW_PIXELS 6
#define SIMD_CW_CHANNELS 64
#define SIMD_PEAK_CHAINS 12
/* Hold a depthwise row's input column in a register for its three FMAs (see avx512.c). */
#define SIMD_KEEP_IN_REGISTER(v) __asm__("" : "+x"(v))

typedef __m256 simd_v;
typedef __m256i simd_tail;

static inline simd_tail simd_tail_of(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#define simd_load(p) _mm256_loadu_ps(p)
#define simd_store(p, v) _mm256_storeu_ps(p, v)
#define simd_load_tail(p, tail) _mm256_maskload_ps(p, tail)
#define simd_store_tail(p, v, tail) _mm256_maskstore_ps(p, tail, v)
#define simd_zero() _mm256_setzero_ps()
#define simd_dup(x) _mm256_set1_ps(x)
#define simd_fma(acc, a, b) _mm256_fmadd_ps(a, b, acc)
#define simd_add(a, b) _mm256_add_ps(a, b)
#define simd_mul(a, b) _mm256_mul_ps(a, b)
#define simd_sub(a, b) _mm256_sub_ps(a, b)
/* 3x3 stride-1 convs through Winograd F(2x2, 3x3) (lib/src/winograd.c). */
#define SIMD_WINOGRAD
/* maxps and minps return the second operand when either is NaN: keep a NaN first operand too; with
 * a constant first, the second is all it takes. */
static inline simd_v simd_keep_nan(simd_v r, simd_v a) { return _mm256_blendv_ps(r, a, _mm256_cmp_ps(a, a, _CMP_UNORD_Q)); }
static inline simd_v simd_max(simd_v a, simd_v b) { return simd_keep_nan(_mm256_max_ps(a, b), a); }
static inline simd_v simd_min(simd_v a, simd_v b) { return simd_keep_nan(_mm256_min_ps(a, b), a); }
#define simd_max_const(c, v) _mm256_max_ps(c, v)
#define simd_min_const(c, v) _mm256_min_ps(c, v)
#define simd_neg_select(v, a) _mm256_blendv_ps(v, a, _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ))
static int simd_supported(void) { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

#include "simd_fixed.h"
