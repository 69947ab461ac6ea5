/* The plan of the nest (nest.h): how a layer is walked, decided once from the layer and the kernel,
 * at load for a model's layers (lower.c). The walk itself is nest.c's. */
#include <string.h>

#include "nest.h"

enum { FLAT_CHUNK_TILES = 1, MIN_PARALLEL_MATVEC_MACS = 1 << 18, FLAT_MIN_TILES = 8 };

/* Whether a 1x1 layer is walked as one long row (below). Not by the thread count: the kernel calls,
 * and so the results, must not depend on it. */
static int flatten_pays(const small_nest *n, const small_kernel_choice *k) {
    return n->out.h * n->out.w >= FLAT_MIN_TILES * k->pixel_tile || 2 * n->out.w < k->pixel_tile;
}

void small_nest_plan_make(small_nest_plan *p, const small_nest *n, const small_kernel_choice *k) {
    *p = (small_nest_plan){.matvec = n->matvec};
    if (n->matvec) {
        p->blocks = (n->out.c + small_channel_block(k, n->out.c) - 1) / small_channel_block(k, n->out.c);
        /* Each thread would read the whole input vector, which the threads wrote: ad01's 640 x 128
         * layers took 1.07x the time split at 2 threads. */
        p->parallel = (double)n->out.c * n->depth >= MIN_PARALLEL_MATVEC_MACS;
        return;
    }
    small_nest view;
    small_nest *v = &view;
    /* A 1x1 window with stride 1 and no padding reads input pixel i for output pixel i, and both
     * tensors store their rows back to back: walk them as one long row, so that pixel tiles run on
     * across row ends instead of leaving a partial tile at the end of every row. But not a layer of
     * few tiles whose rows are at least half a tile wide, which threads would share unevenly:
     * MobileNet's 6x6 1x1 layers are 3 tiles, split 2:1 at 2 threads, where by rows each thread takes
     * the 3 rows the depthwise beside it takes (5.5 -> 4.0 us at 2 threads; the same at 1). */
    p->flattened = n->kernel_h == 1 && n->kernel_w == 1 && n->stride_h == 1 && n->stride_w == 1 && n->pad_top == 0 &&
                   n->pad_left == 0 && n->in.h == n->out.h && n->in.w == n->out.w && n->out.h > 1 &&
                   flatten_pays(n, k);
    /* An output narrower than a pixel tile and taller than wide (KWS's 25 x 5) is walked by columns:
     * a column is as good a row to the kernels, which see only steps; pixel tiles then fill, and
     * fewer pixels sit on a padded border. The view swaps the axes of the geometry (the walk swaps the
     * steps). */
    p->transposed = !p->flattened && n->out.w < n->out.h && n->out.w < k->pixel_tile;
    small_nest_view(p, n, v);
    const int mac = v->depth > 0; /* broadcast-MAC ops reduce over a group's input channels */
    const int group_out = v->out.c / (mac ? v->groups : 1);
    p->blocks = (group_out + small_channel_block(k, group_out) - 1) / small_channel_block(k, group_out);
    /* A channelwise layer on an image of at most one pixel tile splits its channel blocks over the
     * threads (at 2+ threads: nest.c), as the conv layers around it do, whose one tile no two threads
     * can share: so that each thread reads the channels it wrote (MobileNet's 3x3x256 depthwise took
     * 2.2 us at 2 threads split by rows, 0.6 at 1). */
    p->can_split_blocks = !mac && v->out.h * v->out.w <= k->pixel_tile && k->channel_tile > 0;
    /* Units: a flat layer's stretches of FLAT_CHUNK_TILES tiles; a transposed walk's rows cut every
     * pixel tile and numbered chunk by chunk, so that a thread's share is a band of the stored rows,
     * as in the layers before and after it (most walked as stored); else whole rows. */
    p->chunk = p->flattened || p->transposed ? FLAT_CHUNK_TILES * k->pixel_tile : v->out.w;
    p->chunks = (v->out.w + p->chunk - 1) / p->chunk;
    /* Interior columns [ow_lo, ow_hi): the whole window row lies inside the input. */
    small_inside_range(v->pad_left, v->stride_w, v->kernel_w, v->dilation_w, v->in.w, v->out.w, &p->ow_lo, &p->ow_hi);
    p->columns = !mac && (p->ow_lo > 0 || p->ow_hi < v->out.w); /* channelwise, with borders */
    /* Handing a layer to the pool costs about 0.7 us (measured on 2 cores), so the smallest layers stay
     * on the caller. Yet a layer on the caller alone reads and writes whole tensors whose halves the
     * other core holds: ResNet-8's ADDs of 16K elements took 2.5x the time on the caller (2 threads),
     * and ResNet-8 0.88x the time with the threshold at 2^13 MACs rather than 2^15; DS-CNN and VWW
     * were unchanged, and raising it (keeping depthwise layers whole) took them up to 2x. */
    const double macs = (double)v->out.h * v->out.w * v->out.c * v->kernel_h * v->kernel_w * (mac ? v->depth : 1);
    p->parallel = macs >= SMALL_MIN_PARALLEL_MACS;
}

void small_nest_view(const small_nest_plan *p, const small_nest *n, small_nest *v) {
    *v = *n;
    if (p->flattened) {
        v->in.w = v->out.w = n->out.h * n->out.w;
        v->in.h = v->out.h = 1;
    } else if (p->transposed) {
        v->in.h = n->in.w, v->in.w = n->in.h, v->out.h = n->out.w, v->out.w = n->out.h;
        v->kernel_h = n->kernel_w, v->kernel_w = n->kernel_h, v->stride_h = n->stride_w;
        v->stride_w = n->stride_h, v->dilation_h = n->dilation_w, v->dilation_w = n->dilation_h;
        v->pad_top = n->pad_left, v->pad_left = n->pad_top;
    }
}

/* The block layout of small_pack_weights, for elements of `size` bytes: inlined into each entry point below,
 * where size is a constant, so that an element is one load and one store. A plain reshuffle whose loop
 * compares dominated the fuzzer's time (libFuzzer traces every compare) while teaching it nothing;
 * AddressSanitizer still checks every access. */
#if defined(__clang__)
__attribute__((no_sanitize("coverage")))
#endif
static inline __attribute__((always_inline)) void pack_blocks(const small_kernel_choice *k, const void *ohwi,
                                                              size_t size, int out_channels, int groups, int taps,
                                                              int depth, void *packed) {
    const int group_out = out_channels / groups;
    const int block = small_channel_block(k, group_out);
    const char *src = ohwi;
    for (int g = 0; g < groups; ++g) {
        const int group_end = (g + 1) * group_out;
        for (int c0 = g * group_out; c0 < group_end; c0 += block) {
            const int nc = small_min_int(block, group_end - c0);
            char *dst = (char *)packed + (size_t)c0 * taps * depth * size;
            for (int c = 0; c < nc; ++c)
                for (int tap = 0; tap < taps; ++tap)
                    for (int d = 0; d < depth; ++d)
                        memcpy(dst + (((size_t)tap * depth + d) * nc + c) * size,
                               src + (((size_t)(c0 + c) * taps + tap) * depth + d) * size, size);
        }
    }
}

#if defined(__clang__)
__attribute__((no_sanitize("coverage")))
#endif
void small_pack_weights(const small_kernel_choice *k, const float *ohwi, int out_channels, int groups,
                        int taps, int depth, float *packed) {
    pack_blocks(k, ohwi, sizeof *ohwi, out_channels, groups, taps, depth, packed);
}

/* small_pack_weights' layout, of int8 weights (a kernel reads an int8 block as a float one, element by
 * element). */
#if defined(__clang__)
__attribute__((no_sanitize("coverage")))
#endif
void small_pack_weights_s8(const small_kernel_choice *k, const int8_t *ohwi, int out_channels, int groups,
                           int taps, int depth, int8_t *packed) {
    pack_blocks(k, ohwi, sizeof *ohwi, out_channels, groups, taps, depth, packed);
}
