/* small_kernel.h: the contract between the shared loop nest (lib/) and the per-ISA kernels (arch/).
 *
 * The nest cuts every layer's output into tiles of up to `pixel_tile` consecutive output pixels of
 * one row by up to `channel_tile` output channels, and calls one kernel per tile. A kernel computes
 * the whole tile, epilogue included, and stores it. It never sees padding: the nest clips the
 * filter window to the input, so every tap a kernel reads is real data, and all pixels of one call
 * share the same clipped window.
 *
 * A kernel must handle any 1 <= pixels <= pixel_tile and 1 <= channels <= channel_tile (edge tiles),
 * and taps_h * taps_w == 0 (a window entirely in padding: the result is the epilogue of zero).
 */
#ifndef SMALL_KERNEL_H
#define SMALL_KERNEL_H

#include <stddef.h>

#include "small.h"

typedef struct {
    /* Input at the first valid tap of pixel 0 (for MAC kinds at the group's first input channel,
     * for channelwise kinds at the tile's first channel). Pixel p, tap (i, j), channel k is at
     * x[p * x_pixel_step + i * x_row_step + j * x_col_step + k]. */
    const float *x;
    ptrdiff_t x_pixel_step, x_row_step, x_col_step;
    int taps_h, taps_w;
    /* SMALL_KERNEL_ADD: the second input, laid out like x. */
    const float *x2;
    /* Packed weights of this channel block at the first valid tap; tap (i, j) starts at
     * w + i * w_row_step + j * w_col_step. CONV: [depth][channels] per tap. DWCONV: [channels]. */
    const float *w;
    ptrdiff_t w_row_step, w_col_step;
    int depth;          /* CONV: input channels reduced per tap */
    const float *bias;  /* `channels` floats, or NULL */
    /* Output at pixel 0, first channel of the tile: pixel p, channel c at y[p * y_pixel_step + c]. */
    float *y;
    ptrdiff_t y_pixel_step;
    int pixels, channels;
    small_activation activation;
    float alpha;
} small_tile;

typedef enum {
    SMALL_KERNEL_CONV = 0,    /* y = act(bias + sum over taps, depth of x * w): broadcast x */
    SMALL_KERNEL_DWCONV = 1,  /* y = act(bias + sum over taps of x * w), channel by channel */
    SMALL_KERNEL_MAXPOOL = 2, /* y = act(max over taps of x) */
    SMALL_KERNEL_AVGPOOL = 3, /* y = act(sum over taps of x / (taps_h * taps_w)) */
    SMALL_KERNEL_ADD = 4,     /* y = act(x + x2), one tap */
    SMALL_KERNEL_COPY = 5,    /* y = act(x), one tap: activations, concat */
    SMALL_KERNEL_SOFTMAX = 6, /* y = softmax(x) over the tile's channels, which are all of them */
    SMALL_KERNEL_COUNT_ = 7
} small_kernel_kind;

typedef void (*small_tile_fn)(const small_tile *tile);

struct small_kernel_info {
    const char *name;  /* op, type, tile, ISA: "f32-conv-4x8-ref" */
    small_tile_fn run;
    int pixel_tile;    /* most pixels per call */
    int channel_tile;  /* most channels per call; 0 means all channels in one call */
};

/* Each arch/<isa>/ folder defines these two. A NULL kernel means: use arch/ref's. */
const small_kernel_info *small_arch_kernel(small_kernel_kind kind);
extern const char small_arch_isa[];

/* The portable kernels of arch/ref/, present in every build. */
const small_kernel_info *small_ref_kernel(small_kernel_kind kind);

/* The epilogue every kernel applies before its store; scalar form for portable code. */
static inline float small_activate(float v, small_activation act, float alpha) {
    switch (act) {
    case SMALL_ACT_RELU: return v > 0.0f ? v : 0.0f;
    case SMALL_ACT_RELU6: return v > 0.0f ? (v < 6.0f ? v : 6.0f) : 0.0f;
    case SMALL_ACT_LEAKY_RELU: return v < 0.0f ? alpha * v : v;
    default: return v;
    }
}

#endif
