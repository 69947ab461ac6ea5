/* The channelwise window kinds: depthwise conv, max pool and average pool share one tile of
 * 8 pixels x one LMUL-2 group of channels. Per tap: (dwconv) one weight load, then per pixel one
 * input load and one vfmacc.vv / vfmax / vfadd. */
#include <math.h>

#include "rvv_kernels.h"

typedef enum { WINDOW_DWCONV, WINDOW_MAX, WINDOW_AVG } window_op;

/* Folds the input vector at x into accumulator a. */
RVV_INLINE vfloat32m2_t window_step(vfloat32m2_t a, const float *x, vfloat32m2_t w, window_op op, size_t vl) {
    const vfloat32m2_t v = __riscv_vle32_v_f32m2(x, vl);
    switch (op) {
    case WINDOW_DWCONV: return __riscv_vfmacc_vv_f32m2(a, v, w, vl);
    case WINDOW_MAX: return __riscv_vfmax_vv_f32m2(a, v, vl);
    default: return __riscv_vfadd_vv_f32m2(a, v, vl);
    }
}

/* Stores accumulator `a` of pixel p after the epilogue, if p is a real pixel of the tile. */
#define WINDOW_STORE(p, a)                                                                         \
    do {                                                                                           \
        if ((p) < np && (p) < t->pixels) {                                                         \
            if (op == WINDOW_AVG) a = __riscv_vfmul_vf_f32m2(a, inv_count, vl);                   \
            RVV_ACTIVATE(a, t, vl);                                                                \
            __riscv_vse32(t->y + (ptrdiff_t)(p) * t->y_pixel_step, a, vl);                         \
        }                                                                                          \
    } while (0)

/* np (1 or RVV_WINDOW_PIXELS) and op are constants after inlining. */
RVV_INLINE void window_tile(const small_tile *t, const int np, const window_op op) {
    const size_t vl = RVV_VL(t);
    const float *x0 = rvv_pixel(t, 0), *x1 = rvv_pixel(t, 1), *x2 = rvv_pixel(t, 2), *x3 = rvv_pixel(t, 3);
    const float *x4 = rvv_pixel(t, 4), *x5 = rvv_pixel(t, 5), *x6 = rvv_pixel(t, 6), *x7 = rvv_pixel(t, 7);
    vfloat32m2_t a0;
    if (op == WINDOW_MAX)
        a0 = __riscv_vfmv_v_f_f32m2(-INFINITY, vl);
    else if (op == WINDOW_DWCONV && t->bias)
        a0 = __riscv_vle32_v_f32m2(t->bias, vl);
    else
        a0 = __riscv_vfmv_v_f_f32m2(0.0f, vl);
    vfloat32m2_t a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    for (int i = 0; i < t->taps_h; ++i) {
        for (int j = 0; j < t->taps_w; ++j) {
            const ptrdiff_t tap = i * t->x_row_step + j * t->x_col_step;
            /* Pools have no weights; w is then unused and folded away. */
            const vfloat32m2_t w = op == WINDOW_DWCONV
                                       ? __riscv_vle32_v_f32m2(t->w + i * t->w_row_step + j * t->w_col_step, vl)
                                       : a0;
            a0 = window_step(a0, x0 + tap, w, op, vl);
            if (np > 1) {
                a1 = window_step(a1, x1 + tap, w, op, vl);
                a2 = window_step(a2, x2 + tap, w, op, vl);
                a3 = window_step(a3, x3 + tap, w, op, vl);
                a4 = window_step(a4, x4 + tap, w, op, vl);
                a5 = window_step(a5, x5 + tap, w, op, vl);
                a6 = window_step(a6, x6 + tap, w, op, vl);
                a7 = window_step(a7, x7 + tap, w, op, vl);
            }
        }
    }
    /* The nest counts only real taps (padding excluded), as TFLite's average pool does. */
    const float inv_count = 1.0f / (float)(t->taps_h * t->taps_w);
    (void)inv_count;
    WINDOW_STORE(0, a0);
    WINDOW_STORE(1, a1);
    WINDOW_STORE(2, a2);
    WINDOW_STORE(3, a3);
    WINDOW_STORE(4, a4);
    WINDOW_STORE(5, a5);
    WINDOW_STORE(6, a6);
    WINDOW_STORE(7, a7);
}

/* Lone pixels (window borders, global pooling) skip the seven idle accumulators. */
#define WINDOW_KERNEL(name, op)                                                                    \
    void name(const small_tile *t) {                                                               \
        if (t->pixels == 1)                                                                        \
            window_tile(t, 1, op);                                                                 \
        else                                                                                       \
            window_tile(t, RVV_WINDOW_PIXELS, op);                                                 \
    }

WINDOW_KERNEL(rvv_dwconv, WINDOW_DWCONV)
WINDOW_KERNEL(rvv_maxpool, WINDOW_MAX)
WINDOW_KERNEL(rvv_avgpool, WINDOW_AVG)
