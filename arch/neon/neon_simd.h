/* The 128-bit ARM primitives of arch/template/simd_fixed.h, for ARMv7 NEON (arch/neon/) and AArch64
 * Advanced SIMD (arch/asimd/) alike: 4 floats a vector. There are no masked loads: a partial vector
 * is a 64-bit and/or a lane load or store, touching only its lanes. vmaxq/vminq give NaN when either
 * lane is NaN, as the template asks. */
#ifndef NEON_SIMD_H
#define NEON_SIMD_H

#include <arm_neon.h>

#define SIMD_LANES 4

typedef float32x4_t simd_v;
typedef int simd_tail; /* the lane count, 1 to 3 */

static inline simd_v simd_load_tail(const float *p, simd_tail lanes) {
    const simd_v zero = vdupq_n_f32(0.0f);
    if (lanes == 1) return vld1q_lane_f32(p, zero, 0);
    const simd_v low = vcombine_f32(vld1_f32(p), vget_low_f32(zero));
    return lanes == 2 ? low : vld1q_lane_f32(p + 2, low, 2);
}

static inline void simd_store_tail(float *p, simd_v v, simd_tail lanes) {
    if (lanes == 1) {
        vst1q_lane_f32(p, v, 0);
        return;
    }
    vst1_f32(p, vget_low_f32(v));
    if (lanes == 3) vst1q_lane_f32(p + 2, v, 2);
}

#define simd_tail_of(n) (n)
#define simd_load(p) vld1q_f32(p)
#define simd_store(p, v) vst1q_f32(p, v)
#define simd_zero() vdupq_n_f32(0.0f)
#define simd_dup(x) vdupq_n_f32(x)
#define simd_fma(acc, a, b) vfmaq_f32(acc, a, b)
#define simd_add(a, b) vaddq_f32(a, b)
#define simd_mul(a, b) vmulq_f32(a, b)
#define simd_sub(a, b) vsubq_f32(a, b)
#define simd_max(a, b) vmaxq_f32(a, b)
#define simd_min(a, b) vminq_f32(a, b)
#define simd_neg_select(v, a) vbslq_f32(vcltq_f32(v, vdupq_n_f32(0.0f)), a, v)

#endif
