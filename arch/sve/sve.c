/* Arm SVE (AArch64, built with -march=armv8.2-a+sve): the primitives of arch/template/simd_vla.h. A
 * vector is one z register, 128 to 2048 bits: the channel tile follows the hardware's vector length
 * at run time. The tail is a predicate: loads and stores touch only its lanes. FMAX and FMIN give
 * NaN when either operand is NaN. */
#include <arm_sve.h>
#include <sys/auxv.h>

#define VLA_ISA sve
#define VLA_VECTOR vl
/* 32 z registers: 8 accumulators and the weights (conv), 8 and the inputs (windows). */
#define VLA_CONV_PIXELS 8
#define VLA_WINDOW_PIXELS 8
#define VLA_PEAK_CHAINS 8

typedef svfloat32_t vla_v;
typedef svbool_t vla_tail;

static int vla_lanes(void) { return (int)svcntw(); }
#define vla_tail_of(n) svwhilelt_b32_s32(0, (int32_t)(n))
#define vla_load(p, pg) svld1_f32(pg, p)
#define vla_store(p, v, pg) svst1_f32(pg, p, v)
#define vla_dup(x, pg) svdup_n_f32(x)
#define vla_fma_scalar(acc, w, x, pg) svmla_n_f32_x(pg, acc, w, x)
#define vla_fma(acc, a, b, pg) svmla_f32_x(pg, acc, a, b)
#define vla_add(a, b, pg) svadd_f32_x(pg, a, b)
#define vla_mul_scalar(a, x, pg) svmul_n_f32_x(pg, a, x)
#define vla_max(a, b, pg) svmax_f32_x(pg, a, b)
#define vla_min(a, b, pg) svmin_f32_x(pg, a, b)
#define vla_neg_select(v, a, pg) svsel_f32(svcmplt_n_f32(pg, v, 0.0f), a, v)
/* A conv tile of c channels, at most half a vector: group i of c lanes takes input channel k + i. */
typedef svuint32_t vla_group_index_t;
#define vla_group_index(c) svdiv_n_u32_x(svptrue_b32(), svindex_u32(0, 1), (uint32_t)(c))
#define vla_group_load(x, n, index) svtbl_f32(svld1_f32(svwhilelt_b32_s32(0, n), x), index)
/* Pixel groups: lane l of group l / c takes pixel l / c's input, x_pixel_step floats apart, and weight
 * (or bias) l % c; vla_group_shift moves a group's lanes to the front for its store. */
#define vla_pixel_index(c, step) svmul_n_u32_x(svptrue_b32(), vla_group_index(c), (uint32_t)(step))
#define vla_channel_index(c) \
    svsub_u32_x(svptrue_b32(), svindex_u32(0, 1), svmul_n_u32_x(svptrue_b32(), vla_group_index(c), (uint32_t)(c)))
#define vla_group_shift(a, first) svtbl_f32(a, svindex_u32((uint32_t)(first), 1))
static inline svfloat32_t vla_group_sum(svfloat32_t a, int c, int groups) {
    svfloat32_t sum = a;
    for (int i = 1; i < groups; ++i) sum = svadd_f32_x(svptrue_b32(), sum, vla_group_shift(a, i * c));
    return sum;
}
static int vla_supported(void) { return (getauxval(AT_HWCAP) & HWCAP_SVE) != 0; }

#include "simd_vla.h"
