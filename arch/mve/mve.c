/* Arm Helium (M-profile Vector Extension, MVE) for Cortex-M55 and M85: the fixed-width template's
 * primitives, 4 floats a vector, tails predicated with vctp32q. Only 8 q registers, so small tiles.
 * MVE's float max and min are IEEE maxNum/minNum, which drop a NaN: the template's NaN semantics are
 * restored by adding the operands where either is NaN. */
#include <arm_mve.h>
#include <stdint.h>

#define SIMD_ISA mve
#define SIMD_LANES 4
/* 6 accumulators and 2 weight vectors fill the 8 q registers; inputs come from core registers
 * (vfma with a scalar operand). */
#define SIMD_CONV_PIXELS 3
#define SIMD_CONV_CHANNELS 8
#define SIMD_CONV_SPLITS 2
#define SIMD_CW_PIXELS 2
#define SIMD_PEAK_CHAINS 6
/* A tile per call: with a row's loop around it, the tiles spill (ResNet-8: 5% more instructions). */
#define SIMD_WHOLE_ROWS 0

typedef float32x4_t simd_v;
typedef mve_pred16_t simd_tail;

#define simd_tail_of(n) vctp32q((uint32_t)(n))
#define simd_load(p) vld1q_f32(p)
#define simd_store(p, v) vst1q_f32(p, v)
#define simd_load_tail(p, tail) vld1q_z_f32(p, tail)
#define simd_store_tail(p, v, tail) vst1q_p_f32(p, v, tail)
#define simd_zero() vdupq_n_f32(0.0f)
#define simd_dup(x) vdupq_n_f32(x)
#define simd_fma(acc, a, b) vfmaq_f32(acc, a, b)
#define simd_add(a, b) vaddq_f32(a, b)
#define simd_mul(a, b) vmulq_f32(a, b)
static inline simd_v simd_keep_nan(simd_v r, simd_v a, simd_v b) {
    return vaddq_m_f32(r, a, b, vcmpneq_f32(a, a) | vcmpneq_f32(b, b));
}
#define simd_max(a, b) simd_keep_nan(vmaxnmq_f32(a, b), a, b)
#define simd_min(a, b) simd_keep_nan(vminnmq_f32(a, b), a, b)
#define simd_neg_select(v, a) vpselq_f32(a, v, vcmpltq_n_f32(v, 0.0f))

/* MVFR1.MVE (bits 11:8) is 2 when the core has MVE with floating point. */
static int simd_supported(void) { return ((*(volatile const uint32_t *)0xE000EF44u >> 8) & 0xFu) == 2u; }

#include "simd_fixed.h"
