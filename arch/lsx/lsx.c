/* LoongArch LSX (128-bit, 4 floats; built with -mlsx): the primitives of arch/template/simd_fixed.h.
 * There are no masked loads: a partial vector is lane by lane, touching only its lanes. lsxintrin.h
 * has no float broadcast: a vector literal (GCC makes it vldrepl.w, or fld.s and vreplvei.w).
 * vfmax.s and vfmin.s return the other operand when one is NaN (IEEE maxNum): max and min put a NaN
 * back where either operand is unordered (a + b is then NaN). */
#include <lsxintrin.h>
#include <sys/auxv.h>

#define SIMD_ISA lsx
#define SIMD_LANES 4
/* 32 vector registers: the conv tile's 16 accumulators, 2 weight vectors and the inputs. */
#define SIMD_CONV_PIXELS 8
#define SIMD_CONV_CHANNELS 8
#define SIMD_DW_ROW_VECTORS 2

typedef __m128 simd_v;
typedef int simd_tail; /* the lane count, 1 to 3 */

/* Lane by lane at constant lanes, so that the vector stays in a register (a variable lane went
 * through the stack: a vector store and reload around each tail). */
static inline simd_v simd_load_tail(const float *p, simd_tail lanes) {
    simd_v v = {0.0f, 0.0f, 0.0f, 0.0f};
    _Pragma("GCC unroll 8") for (int i = 0; i < SIMD_LANES - 1; i++) if (i < lanes) v[i] = p[i];
    return v;
}
static inline void simd_store_tail(float *p, simd_v v, simd_tail lanes) {
#define STELM(lane) if (lanes > lane) __lsx_vstelm_w((__m128i)v, p, 4 * lane, lane)
    STELM(0); STELM(1); STELM(2);
#undef STELM
}
#define simd_tail_of(n) (n)
#define simd_load(p) ((simd_v)__lsx_vld((void *)(p), 0))
#define simd_store(p, v) __lsx_vst((__m128i)(v), (void *)(p), 0)
#define simd_zero() ((simd_v){0.0f, 0.0f, 0.0f, 0.0f})
static inline simd_v simd_dup(float x) { return (simd_v){x, x, x, x}; }
#define simd_fma(acc, a, b) __lsx_vfmadd_s(a, b, acc)
#define simd_add(a, b) __lsx_vfadd_s(a, b)
#define simd_mul(a, b) __lsx_vfmul_s(a, b)
#define simd_sub(a, b) __lsx_vfsub_s(a, b)
#define SIMD_WINOGRAD /* 3x3 stride-1 convs through Winograd F(2x2, 3x3) (lib/src/winograd.c) */
static inline simd_v simd_keep_nan(simd_v r, simd_v a, simd_v b) {
    return (simd_v)__lsx_vbitsel_v((__m128i)r, (__m128i)__lsx_vfadd_s(a, b), __lsx_vfcmp_cun_s(a, b));
}
#define simd_max(a, b) simd_keep_nan(__lsx_vfmax_s(a, b), a, b)
#define simd_min(a, b) simd_keep_nan(__lsx_vfmin_s(a, b), a, b)
#define simd_neg_select(v, a) \
    ((simd_v)__lsx_vbitsel_v((__m128i)(v), (__m128i)(a), __lsx_vfcmp_clt_s(v, simd_zero())))
static int simd_supported(void) { return (getauxval(AT_HWCAP) & HWCAP_LOONGARCH_LSX) != 0; }

#include "simd_fixed.h"
