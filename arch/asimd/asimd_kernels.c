/* AArch64 Advanced SIMD kernels (target aarch64; written for Cortex-A53/A72 class cores).
 *
 * Every kind but softmax uses one tile, 8 pixels x 8 channels (two q vectors per pixel): 16
 * accumulators. Conv reduces 4 input channels per step: each pixel loads its 4 inputs as one
 * vector, then each channel's 2 weight vectors multiply them by lane (vfmaq_laneq_f32), so 16 loads
 * feed 64 FMAs with 26 of the 32 vector registers live.
 *
 * Edge tiles run the same vector code as full tiles; the edge logic is in two places:
 * - partial channel blocks: load_vec / store_vec touch only the lanes inside the row (there are no
 *   masked loads). Each body is inlined twice, for nc == 8, where those fold into plain vector loads
 *   and stores, and for the runtime channel count.
 * - partial pixel counts: pixel_inputs points the missing pixels at pixel 0, which is valid input,
 *   and store_tile stores only the real pixels.
 */
#include <arm_neon.h>
#include <math.h>

#include "small_kernel.h"

#define INLINE static inline __attribute__((always_inline))
/* Tile loops unrolled before scalar replacement, so accumulator arrays live in registers. */
#define UNROLL _Pragma("GCC unroll 8")

enum { P = 8, C = 8, V = C / 4 };

/* Vector v (floats 4v .. 4v+3) of a row of n floats. Lanes past the row are zero and are not
 * read, so a partial vector costs a 64-bit load and/or a lane load instead of a masked load. */
INLINE float32x4_t load_vec(const float *row, int v, int n) {
    const int lanes = n - 4 * v;
    const float32x4_t zero = vdupq_n_f32(0.0f);
    if (lanes <= 0) return zero;
    const float *p = row + 4 * v;
    if (lanes >= 4) return vld1q_f32(p);
    if (lanes == 1) return vld1q_lane_f32(p, zero, 0);
    const float32x4_t low = vcombine_f32(vld1_f32(p), vget_high_f32(zero));
    return lanes == 2 ? low : vld1q_lane_f32(p + 2, low, 2);
}

/* Stores x as vector v of a row of n floats: only the lanes inside the row. */
INLINE void store_vec(float *row, int v, int n, float32x4_t x) {
    const int lanes = n - 4 * v;
    float *p = row + 4 * v;
    if (lanes >= 4) {
        vst1q_f32(p, x);
    } else if (lanes >= 2) {
        vst1_f32(p, vget_low_f32(x));
        if (lanes == 3) vst1q_lane_f32(p + 2, x, 2);
    } else if (lanes == 1) {
        vst1q_lane_f32(p, x, 0);
    }
}

/* Each pixel's input at the first tap; pixels past the edge reread pixel 0. */
INLINE void pixel_inputs(const small_tile *t, const float *x, const float *xp[P]) {
    UNROLL for (int p = 0; p < P; ++p) xp[p] = x + (p < t->pixels ? p * t->x_pixel_step : 0);
}

INLINE void init_bias(const small_tile *t, float32x4_t acc[P][V], int nc) {
    UNROLL for (int v = 0; v < V; ++v) {
        const float32x4_t b = t->bias ? load_vec(t->bias, v, nc) : vdupq_n_f32(0.0f);
        UNROLL for (int p = 0; p < P; ++p) acc[p][v] = b;
    }
}

/* Epilogue: the activation, vectorised, then the store of the real pixels and channels. */
INLINE void store_tile(const small_tile *t, float32x4_t acc[P][V], int nc) {
    const float32x4_t zero = vdupq_n_f32(0.0f), six = vdupq_n_f32(6.0f);
    UNROLL for (int p = 0; p < P; ++p)
        UNROLL for (int v = 0; v < V; ++v) {
            float32x4_t a = acc[p][v];
            switch (t->activation) {
            case SMALL_ACT_RELU: a = vmaxq_f32(a, zero); break;
            case SMALL_ACT_RELU6: a = vminq_f32(vmaxq_f32(a, zero), six); break;
            case SMALL_ACT_LEAKY_RELU: a = vbslq_f32(vcltzq_f32(a), vmulq_n_f32(a, t->alpha), a); break;
            default: break;
            }
            acc[p][v] = a;
        }
    UNROLL for (int p = 0; p < P; ++p)
        if (p < t->pixels)
            UNROLL for (int v = 0; v < V; ++v) store_vec(t->y + p * t->y_pixel_step, v, nc, acc[p][v]);
}

/* One input channel of the 4-channel step: its weight row times lane `lane` of each pixel's inputs
 * (a macro: the lane must be a compile-time constant). */
#define CONV_LANE(lane)                                                                                    \
    do {                                                                                                   \
        float32x4_t wl[V];                                                                                 \
        UNROLL for (int v = 0; v < V; ++v) wl[v] = load_vec(w + (lane) * nc, v, nc);                       \
        UNROLL for (int p = 0; p < P; ++p)                                                                 \
            UNROLL for (int v = 0; v < V; ++v) acc[p][v] = vfmaq_laneq_f32(acc[p][v], wl[v], xq[p], lane); \
    } while (0)

/* Conv: per tap, reduce the input channels 4 at a time (FMA by lane), then one at a time
 * (broadcast load) for the remainder. Weights are packed [depth][nc] per tap. */
INLINE void conv_body(const small_tile *t, int nc) {
    float32x4_t acc[P][V];
    const float *xp[P];
    init_bias(t, acc, nc);
    pixel_inputs(t, t->x, xp);
    for (int i = 0; i < t->taps_h; ++i)
        for (int j = 0; j < t->taps_w; ++j) {
            const ptrdiff_t xo = i * t->x_row_step + j * t->x_col_step;
            const float *w = t->w + i * t->w_row_step + j * t->w_col_step;
            int k = 0;
            for (; k + 4 <= t->depth; k += 4, w += 4 * nc) {
                float32x4_t xq[P];
                UNROLL for (int p = 0; p < P; ++p) xq[p] = vld1q_f32(xp[p] + xo + k);
                CONV_LANE(0);
                CONV_LANE(1);
                CONV_LANE(2);
                CONV_LANE(3);
            }
            for (; k < t->depth; ++k, w += nc) {
                float32x4_t wv[V];
                UNROLL for (int v = 0; v < V; ++v) wv[v] = load_vec(w, v, nc);
                UNROLL for (int p = 0; p < P; ++p) {
                    const float32x4_t xb = vld1q_dup_f32(xp[p] + xo + k);
                    UNROLL for (int v = 0; v < V; ++v) acc[p][v] = vfmaq_f32(acc[p][v], wv[v], xb);
                }
            }
        }
    store_tile(t, acc, nc);
}

static void asimd_conv_8x8(const small_tile *t) {
    if (t->channels == C) conv_body(t, C);
    else conv_body(t, t->channels);
}

/* The channelwise kinds share one body; `op` is a constant in each kernel, so each gets only its
 * own arithmetic. */
enum { OP_DWCONV, OP_MAXPOOL, OP_AVGPOOL, OP_ADD, OP_COPY };

INLINE void channelwise_body(const small_tile *t, int op, int nc) {
    float32x4_t acc[P][V];
    const float *xp[P];
    pixel_inputs(t, t->x, xp);
    if (op == OP_ADD || op == OP_COPY) { /* one tap, loaded as is (not added to 0.0f: keeps -0.0f) */
        const float *x2p[P];
        if (op == OP_ADD) pixel_inputs(t, t->x2, x2p);
        UNROLL for (int p = 0; p < P; ++p)
            UNROLL for (int v = 0; v < V; ++v) {
                acc[p][v] = load_vec(xp[p], v, nc);
                if (op == OP_ADD) acc[p][v] = vaddq_f32(acc[p][v], load_vec(x2p[p], v, nc));
            }
        store_tile(t, acc, nc);
        return;
    }
    if (op == OP_DWCONV) init_bias(t, acc, nc);
    else
        UNROLL for (int p = 0; p < P; ++p)
            UNROLL for (int v = 0; v < V; ++v) acc[p][v] = vdupq_n_f32(op == OP_MAXPOOL ? -INFINITY : 0.0f);
    for (int i = 0; i < t->taps_h; ++i)
        for (int j = 0; j < t->taps_w; ++j) {
            const ptrdiff_t xo = i * t->x_row_step + j * t->x_col_step;
            float32x4_t wv[V];
            if (op == OP_DWCONV) { /* pools have no weights: t->w is NULL */
                const float *w = t->w + i * t->w_row_step + j * t->w_col_step;
                UNROLL for (int v = 0; v < V; ++v) wv[v] = load_vec(w, v, nc);
            }
            UNROLL for (int p = 0; p < P; ++p)
                UNROLL for (int v = 0; v < V; ++v) {
                    const float32x4_t xv = load_vec(xp[p] + xo, v, nc);
                    if (op == OP_DWCONV) acc[p][v] = vfmaq_f32(acc[p][v], xv, wv[v]);
                    else if (op == OP_MAXPOOL) acc[p][v] = vmaxq_f32(acc[p][v], xv);
                    else acc[p][v] = vaddq_f32(acc[p][v], xv);
                }
        }
    if (op == OP_AVGPOOL) {
        const float32x4_t count = vdupq_n_f32((float)(t->taps_h * t->taps_w));
        UNROLL for (int p = 0; p < P; ++p)
            UNROLL for (int v = 0; v < V; ++v) acc[p][v] = vdivq_f32(acc[p][v], count);
    }
    store_tile(t, acc, nc);
}

INLINE void channelwise(const small_tile *t, int op) {
    if (t->channels == C) channelwise_body(t, op, C);
    else channelwise_body(t, op, t->channels);
}

static void asimd_dwconv_8x8(const small_tile *t) { channelwise(t, OP_DWCONV); }
static void asimd_maxpool_8x8(const small_tile *t) { channelwise(t, OP_MAXPOOL); }
static void asimd_avgpool_8x8(const small_tile *t) { channelwise(t, OP_AVGPOOL); }
static void asimd_add_8x8(const small_tile *t) { channelwise(t, OP_ADD); }
static void asimd_copy_8x8(const small_tile *t) { channelwise(t, OP_COPY); }

const char small_arch_isa[] = "asimd";

static const small_kernel_info asimd_kernels[SMALL_KERNEL_COUNT_] = {
    [SMALL_KERNEL_CONV] = {"f32-conv-8x8-asimd", asimd_conv_8x8, P, C},
    [SMALL_KERNEL_DWCONV] = {"f32-dwconv-8x8-asimd", asimd_dwconv_8x8, P, C},
    [SMALL_KERNEL_MAXPOOL] = {"f32-maxpool-8x8-asimd", asimd_maxpool_8x8, P, C},
    [SMALL_KERNEL_AVGPOOL] = {"f32-avgpool-8x8-asimd", asimd_avgpool_8x8, P, C},
    [SMALL_KERNEL_ADD] = {"f32-add-8x8-asimd", asimd_add_8x8, P, C},
    [SMALL_KERNEL_COPY] = {"f32-copy-8x8-asimd", asimd_copy_8x8, P, C},
    /* softmax: NULL, arch/ref's (bound by exp, run once per model) */
};

const small_kernel_info *small_arch_kernel(small_kernel_kind kind) {
    if ((unsigned)kind >= SMALL_KERNEL_COUNT_ || !asimd_kernels[kind].run) return NULL;
    return &asimd_kernels[kind];
}
