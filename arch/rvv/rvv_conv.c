/* Convolution (and fully connected, a 1x1 conv): 7 pixels x one LMUL-4 group of output channels.
 * Per input channel: one weight-row load, seven scalar input loads, seven vfmacc.vf. */
#include "rvv_kernels.h"

/* Stores accumulator `a` of pixel p after the epilogue, if p is a real pixel of the tile. */
#define CONV_STORE(p, a)                                                                           \
    do {                                                                                           \
        if ((p) < np && (p) < t->pixels) {                                                         \
            RVV_ACTIVATE(a, t, vl);                                                                \
            __riscv_vse32(t->y + (ptrdiff_t)(p) * t->y_pixel_step, a, vl);                         \
        }                                                                                          \
    } while (0)

/* np is 1 or RVV_CONV_PIXELS, a constant after inlining: accumulators past it are never used. */
RVV_INLINE void conv_tile(const small_tile *t, const int np) {
    const size_t vl = RVV_VL(t);
    const ptrdiff_t w_k_step = t->channels; /* packed [depth][channels] per tap */
    const float *x0 = rvv_pixel(t, 0), *x1 = rvv_pixel(t, 1), *x2 = rvv_pixel(t, 2), *x3 = rvv_pixel(t, 3);
    const float *x4 = rvv_pixel(t, 4), *x5 = rvv_pixel(t, 5), *x6 = rvv_pixel(t, 6);
    vfloat32m4_t a0 = t->bias ? __riscv_vle32_v_f32m4(t->bias, vl) : __riscv_vfmv_v_f_f32m4(0.0f, vl);
    vfloat32m4_t a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0;
    for (int i = 0; i < t->taps_h; ++i) {
        for (int j = 0; j < t->taps_w; ++j) {
            const ptrdiff_t tap = i * t->x_row_step + j * t->x_col_step;
            const float *w = t->w + i * t->w_row_step + j * t->w_col_step;
            const float *p0 = x0 + tap, *p1 = x1 + tap, *p2 = x2 + tap, *p3 = x3 + tap;
            const float *p4 = x4 + tap, *p5 = x5 + tap, *p6 = x6 + tap;
            for (int k = 0; k < t->depth; ++k, w += w_k_step) {
                const vfloat32m4_t wk = __riscv_vle32_v_f32m4(w, vl);
                a0 = __riscv_vfmacc_vf_f32m4(a0, p0[k], wk, vl);
                if (np > 1) {
                    a1 = __riscv_vfmacc_vf_f32m4(a1, p1[k], wk, vl);
                    a2 = __riscv_vfmacc_vf_f32m4(a2, p2[k], wk, vl);
                    a3 = __riscv_vfmacc_vf_f32m4(a3, p3[k], wk, vl);
                    a4 = __riscv_vfmacc_vf_f32m4(a4, p4[k], wk, vl);
                    a5 = __riscv_vfmacc_vf_f32m4(a5, p5[k], wk, vl);
                    a6 = __riscv_vfmacc_vf_f32m4(a6, p6[k], wk, vl);
                }
            }
        }
    }
    CONV_STORE(0, a0);
    CONV_STORE(1, a1);
    CONV_STORE(2, a2);
    CONV_STORE(3, a3);
    CONV_STORE(4, a4);
    CONV_STORE(5, a5);
    CONV_STORE(6, a6);
}

void rvv_conv(const small_tile *t) {
    /* Lone pixels (window borders, fully connected) skip the six idle accumulators. */
    if (t->pixels == 1)
        conv_tile(t, 1);
    else
        conv_tile(t, RVV_CONV_PIXELS);
}
