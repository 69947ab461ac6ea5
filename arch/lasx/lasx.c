/* LoongArch LASX (256-bit, 8 floats; built with -mlasx): the primitives of arch/template/simd_fixed.h,
 * as arch/lsx/lsx.c's on 256 bits. A partial vector is lane by lane; the broadcast is a vector literal
 * (xvldrepl.w, or fld.s and xvreplve0.w); xvfmax.s and xvfmin.s drop a NaN (IEEE maxNum), so max and
 * min put a NaN back where either operand is unordered. */
#include <lasxintrin.h>
#include <sys/auxv.h>

#define SIMD_ISA lasx
#define SIMD_LANES 8
/* 32 vector registers: the conv tile's 16 accumulators, 2 weight vectors and the inputs. */
#define SIMD_CONV_PIXELS 8
#define SIMD_CONV_CHANNELS 16
#define SIMD_DW_ROW_VECTORS 2

typedef __m256 simd_v;
typedef int simd_tail; /* the lane count, 1 to 7 */

/* Lane by lane at constant lanes, so that the vector stays in a register (a variable lane went
 * through the stack: a vector store and reload around each tail). */
static inline simd_v simd_load_tail(const float *p, simd_tail lanes) {
    simd_v v = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    _Pragma("GCC unroll 8") for (int i = 0; i < SIMD_LANES - 1; i++) if (i < lanes) v[i] = p[i];
    return v;
}
static inline void simd_store_tail(float *p, simd_v v, simd_tail lanes) {
#define STELM(lane) if (lanes > lane) __lasx_xvstelm_w((__m256i)v, p, 4 * lane, lane)
    STELM(0); STELM(1); STELM(2); STELM(3); STELM(4); STELM(5); STELM(6);
#undef STELM
}
#define simd_tail_of(n) (n)
#define simd_load(p) ((simd_v)__lasx_xvld((void *)(p), 0))
#define simd_store(p, v) __lasx_xvst((__m256i)(v), (void *)(p), 0)
#define simd_zero() ((simd_v){0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f})
static inline simd_v simd_dup(float x) { return (simd_v){x, x, x, x, x, x, x, x}; }
#define simd_fma(acc, a, b) __lasx_xvfmadd_s(a, b, acc)
#define simd_add(a, b) __lasx_xvfadd_s(a, b)
#define simd_mul(a, b) __lasx_xvfmul_s(a, b)
#define simd_sub(a, b) __lasx_xvfsub_s(a, b)
#define SIMD_WINOGRAD /* 3x3 stride-1 convs through Winograd F(2x2, 3x3) (lib/src/winograd.c) */
static inline simd_v simd_keep_nan(simd_v r, simd_v a, simd_v b) {
    return (simd_v)__lasx_xvbitsel_v((__m256i)r, (__m256i)__lasx_xvfadd_s(a, b), __lasx_xvfcmp_cun_s(a, b));
}
#define simd_max(a, b) simd_keep_nan(__lasx_xvfmax_s(a, b), a, b)
#define simd_min(a, b) simd_keep_nan(__lasx_xvfmin_s(a, b), a, b)
#define simd_neg_select(v, a) \
    ((simd_v)__lasx_xvbitsel_v((__m256i)(v), (__m256i)(a), __lasx_xvfcmp_clt_s(v, simd_zero())))
static int simd_supported(void) { return (getauxval(AT_HWCAP) & HWCAP_LOONGARCH_LASX) != 0; }

#include "simd_fixed.h"
