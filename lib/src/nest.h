/* nest.h: the one loop nest that every layer is an instance of. */
#ifndef SMALL_NEST_H
#define SMALL_NEST_H

#include <stddef.h>

#include "small_kernel.h"

/* A layer reduced to what the nest needs. Elementwise ops are a 1x1 window with stride 1. */
typedef struct {
    small_shape in, out;
    int kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w;
    int pad_top, pad_left;          /* padding before; padding after is implied by the shapes */
    int groups;
    int depth;                      /* MAC ops broadcasting x: input channels per group; else 0 */
    int matvec;                     /* the FC kind: one output pixel reducing the whole input (depth) */
    const float *weights;           /* packed by small_pack_weights, or NULL */
    const float *bias;              /* out.c floats, or NULL */
    small_activation activation;
    float alpha;
    ptrdiff_t y_pixel_step;         /* floats between output pixels: out.c, or more inside a concat */
} small_nest;

/* Output channels per kernel call: the kernel's channel tile, or all of a group's (channel_tile 0).
 * Packing and running must agree on it (small_pack_weights, small_pack_winograd). */
static inline int small_channel_block(const small_kernel_choice *k, int group_channels) {
    return k->channel_tile > 0 ? k->channel_tile : group_channels;
}

/* Handing a layer to the thread pool costs about 0.7 us (2 cores): layers of fewer MACs stay on the
 * caller (see small_nest_run). */
enum { SMALL_MIN_PARALLEL_MACS = 1 << 13 };

/* Runs the nest over the whole output with kernel k (its tile on this CPU), on `threads` threads:
 * what small_pool_enter gave the run (threads.h), or 1 for a part of a layer already split across
 * threads. x2 is the second
 * input of ADD, else NULL. */
void small_nest_run(const small_nest *n, const small_kernel_choice *k, const float *x, const float *x2, float *y,
                    int threads);

/* Packs OHWI weights [out][taps][depth] into the block layout the kernel k reads. */
void small_pack_weights(const small_kernel_choice *k, const float *ohwi, int out_channels, int groups,
                        int taps, int depth, float *packed);

#endif
