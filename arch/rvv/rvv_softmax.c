/* Softmax over all channels of each pixel (channel tile 0): three strip-mined LMUL-4 passes, the
 * maximum, exp(x - max) stored with its sum, and the scaling by 1 / sum. */
#include <math.h>

#include "rvv_kernels.h"

/* exp(x) for x <= 0, within 1.2 ulps (measured over [-87, 0]): x = n ln2 + r, |r| <= ln2 / 2 with
 * n rounded to nearest (the default rounding mode); exp(r) by its degree-7 Taylor polynomial
 * (truncation below 1e-8); times 2^n written into the exponent field. x is clamped at -87 so that
 * 2^n stays normal: the 1.6e-38 this gives for anything smaller vanishes in the sum, which is >= 1. */
static vfloat32m4_t exp_nonpositive(vfloat32m4_t x, size_t vl) {
    static const float taylor[] = {1.0f / 5040, 1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1.0f, 1.0f};
    const float ln2_hi = 0.693147182f, ln2_lo = -1.90465432e-9f; /* ln 2 = hi + lo, hi a float */
    x = __riscv_vfmax_vf_f32m4(x, -87.0f, vl);
    const vint32m4_t n = __riscv_vfcvt_x_f_v_i32m4(__riscv_vfmul_vf_f32m4(x, 1.44269504f, vl), vl);
    const vfloat32m4_t n_float = __riscv_vfcvt_f_x_v_f32m4(n, vl);
    vfloat32m4_t r = __riscv_vfnmsac_vf_f32m4(x, ln2_hi, n_float, vl); /* fused: one rounding */
    r = __riscv_vfnmsac_vf_f32m4(r, ln2_lo, n_float, vl);
    /* Horner with scalar addends: a fused step would need each coefficient splat in every strip. */
    vfloat32m4_t p = __riscv_vfadd_vf_f32m4(__riscv_vfmul_vf_f32m4(r, taylor[0], vl), taylor[1], vl);
    for (int k = 2; k < 8; ++k) p = __riscv_vfadd_vf_f32m4(__riscv_vfmul_vv_f32m4(p, r, vl), taylor[k], vl);
    const vint32m4_t scale = __riscv_vsll_vx_i32m4(__riscv_vadd_vx_i32m4(n, 127, vl), 23, vl);
    return __riscv_vfmul_vv_f32m4(p, __riscv_vreinterpret_v_i32m4_f32m4(scale), vl);
}

void rvv_softmax(const small_tile *t) {
    const size_t channels = (size_t)t->channels;
    for (int p = 0; p < t->pixels; ++p) {
        const float *x = t->x + p * t->x_pixel_step;
        float *y = t->y + p * t->y_pixel_step;
        /* Reductions into element 0 of an LMUL-1 register: tail lanes of a strip are never read. */
        vfloat32m1_t max = __riscv_vfmv_s_f_f32m1(-INFINITY, 1);
        for (size_t c = 0, vl; c < channels; c += vl) {
            vl = __riscv_vsetvl_e32m4(channels - c);
            max = __riscv_vfredmax_vs_f32m4_f32m1(__riscv_vle32_v_f32m4(x + c, vl), max, vl);
        }
        const float top = __riscv_vfmv_f_s_f32m1_f32(max);
        vfloat32m1_t sum = __riscv_vfmv_s_f_f32m1(0.0f, 1);
        for (size_t c = 0, vl; c < channels; c += vl) {
            vl = __riscv_vsetvl_e32m4(channels - c);
            const vfloat32m4_t e = exp_nonpositive(__riscv_vfsub_vf_f32m4(__riscv_vle32_v_f32m4(x + c, vl), top, vl), vl);
            __riscv_vse32(y + c, e, vl);
            sum = __riscv_vfredusum_vs_f32m4_f32m1(e, sum, vl);
        }
        const float inverse = 1.0f / __riscv_vfmv_f_s_f32m1_f32(sum);
        for (size_t c = 0, vl; c < channels; c += vl) {
            vl = __riscv_vsetvl_e32m4(channels - c);
            __riscv_vse32(y + c, __riscv_vfmul_vf_f32m4(__riscv_vle32_v_f32m4(y + c, vl), inverse, vl), vl);
        }
    }
}
