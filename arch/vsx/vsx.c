/* POWER9 VSX (ppc64le, 4 floats; built with -mcpu=power9): the primitives of arch/template/
 * simd_fixed.h. A partial vector is lxvl / stxvl (vec_xl_len, vec_xst_len, ISA 3.0), which touch only
 * the bytes asked for. xvmaxsp and xvminsp return the other operand when one is NaN (IEEE maxNum),
 * so max and min put a NaN of either operand back: the template's contract. */
#include <altivec.h>
#include <stddef.h>
#include <sys/auxv.h>

#define SIMD_ISA vsx
#define SIMD_LANES 4
/* 64 vector-scalar registers: the conv tile's 16 accumulators, 2 weight vectors and the inputs. */
#define SIMD_CONV_PIXELS 8
#define SIMD_CONV_CHANNELS 8
#define SIMD_DW_ROW_VECTORS 2
#define SIMD_PEAK_CHAINS 24

typedef vector float simd_v;
typedef size_t simd_tail; /* bytes */

#define simd_tail_of(n) ((size_t)(n) * sizeof(float))
#define simd_load(p) vec_xl(0, (float *)(p))
#define simd_store(p, v) vec_xst(v, 0, p)
#define simd_load_tail(p, bytes) vec_xl_len((float *)(p), bytes)
#define simd_store_tail(p, v, bytes) vec_xst_len(v, p, bytes)
#define simd_zero() vec_splats(0.0f)
static inline simd_v simd_dup(float x) { return vec_splats(x); } /* a function: GCC 12 fails on some macro uses */
#define simd_fma(acc, a, b) vec_madd(a, b, acc)
#define simd_add(a, b) vec_add(a, b)
#define simd_mul(a, b) vec_mul(a, b)
#define simd_sub(a, b) vec_sub(a, b)
#define SIMD_WINOGRAD /* 3x3 stride-1 convs through Winograd F(2x2, 3x3) */
static inline simd_v simd_keep_nan(simd_v r, simd_v a, simd_v b) {
    return vec_sel(b, vec_sel(a, r, vec_cmpeq(a, a)), vec_cmpeq(b, b)); /* x == x fails only for NaN */
}
#define simd_max(a, b) simd_keep_nan(vec_max(a, b), a, b)
#define simd_min(a, b) simd_keep_nan(vec_min(a, b), a, b)
#define simd_neg_select(v, a) vec_sel(v, a, vec_cmplt(v, vec_splats(0.0f)))
static int simd_supported(void) {
    return (getauxval(AT_HWCAP) & PPC_FEATURE_HAS_VSX) && (getauxval(AT_HWCAP2) & PPC_FEATURE2_ARCH_3_00);
}

#include "simd_fixed.h"
