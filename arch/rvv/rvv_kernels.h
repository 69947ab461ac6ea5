/* RVV 1.0 kernels, vector-length agnostic: each kernel's channel tile is one register group of its
 * LMUL, read from the hardware at run time (rvv_isa.c), so one binary serves every VLEN. A tile is a
 * fixed set of named accumulators, because sizeless vector types cannot live in arrays. */
#ifndef RVV_KERNELS_H
#define RVV_KERNELS_H

#include <riscv_vector.h>

#include "small_kernel.h"

/* Pixels per call. conv: 7 accumulators of LMUL 4 plus one weight group fill the 32 registers.
 * window (dwconv, pools): 8 of LMUL 2 leave 14 registers to load inputs ahead of their use.
 * elementwise (add, copy, softmax): a plain loop over pixels; the count only bounds a call's work. */
enum { RVV_CONV_PIXELS = 7, RVV_WINDOW_PIXELS = 8, RVV_ELEMENTWISE_PIXELS = 8 };

/* Lets a tile body take its pixel count and op as constants, so each kernel gets its own copy with
 * the unused accumulators and branches removed. */
#define RVV_INLINE static inline __attribute__((always_inline))

/* A tile's channels never exceed its kernel's channel tile, VLMAX, so they are the vl as they are
 * (below VLMAX on a group's last block). No vsetvl intrinsic: with one, clang-16 re-issues vsetvli
 * inside the loops. */
#define RVV_VL(t) ((size_t)(t)->channels)

/* The tile's activation on v, in place, for any f32 LMUL (overloaded intrinsics): the epilogue every
 * kernel applies before its store. Leaky multiplies only the negative lanes (mask undisturbed). */
#define RVV_ACTIVATE(v, t, vl)                                                                     \
    do {                                                                                           \
        switch ((t)->activation) {                                                                 \
        case SMALL_ACT_RELU: (v) = __riscv_vfmax((v), 0.0f, (vl)); break;                          \
        case SMALL_ACT_RELU6: (v) = __riscv_vfmin(__riscv_vfmax((v), 0.0f, (vl)), 6.0f, (vl)); break; \
        case SMALL_ACT_LEAKY_RELU:                                                                 \
            (v) = __riscv_vfmul_mu(__riscv_vmflt((v), 0.0f, (vl)), (v), (v), (t)->alpha, (vl));    \
            break;                                                                                 \
        default: break;                                                                            \
        }                                                                                          \
    } while (0)

/* Input of pixel p of a tile, p clamped to the last real pixel: a partial tile computes its
 * missing pixels on valid data and drops them at the store. */
static inline const float *rvv_pixel(const small_tile *t, int p) {
    return t->x + (ptrdiff_t)(p < t->pixels ? p : t->pixels - 1) * t->x_pixel_step;
}

void rvv_conv(const small_tile *t);    /* rvv_conv.c, LMUL 4 */
void rvv_dwconv(const small_tile *t);  /* rvv_window.c, LMUL 2 */
void rvv_maxpool(const small_tile *t);
void rvv_avgpool(const small_tile *t);
void rvv_add(const small_tile *t);     /* rvv_elementwise.c, LMUL 8 */
void rvv_copy(const small_tile *t);
void rvv_softmax(const small_tile *t); /* rvv_softmax.c, LMUL 4, all channels per call */

#endif
