/* nest.h: the one loop nest that every layer is an instance of. */
#ifndef SMALL_NEST_H
#define SMALL_NEST_H

#include <stddef.h>
#include <stdint.h>

#include "small_kernel.h"

/* A layer reduced to what the nest needs. Elementwise ops are a 1x1 window with stride 1. */
typedef struct {
    small_shape in, out;
    int kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w;
    int pad_top, pad_left;          /* padding before; padding after is implied by the shapes */
    int groups;
    int depth;                      /* MAC ops broadcasting x: input channels per group; else 0 */
    int matvec;                     /* the FC kind: one output pixel reducing the whole input (depth) */
    /* An int8 layer (small_nest_walk_run_s8) fills the _s8 members, which share the float ones' places. */
    union {
        const float *weights;       /* packed by small_pack_weights, or NULL */
        const int8_t *weights_s8;   /* small_pack_weights_s8 */
    };
    union {
        const float *bias;                /* out.c floats, or NULL */
        const small_s8_channel *requant;  /* out.c records (small_kernel.h) */
    };
    small_activation activation;
    union {
        float alpha;
        small_s8_params s8;
    };
    ptrdiff_t y_pixel_step;         /* elements between output pixels: out.c, or more inside a concat */
} small_nest;

/* Output channels per kernel call: the kernel's channel tile, or all of a group's (channel_tile 0).
 * Packing and running must agree on it (small_pack_weights, small_pack_winograd). */
static inline int small_channel_block(const small_kernel_choice *k, int group_channels) {
    return k->channel_tile > 0 ? k->channel_tile : group_channels;
}

/* Handing a layer to the thread pool costs about 0.7 us (2 cores): layers of fewer MACs stay on the
 * caller (see nest_plan.c). */
enum { SMALL_MIN_PARALLEL_MACS = 1 << 13 };

/* ---- Index arithmetic, shared by the plan and the walk ------------------------------------------ */

static inline int small_min_int(int a, int b) { return a < b ? a : b; }
static inline int small_max_int(int a, int b) { return a > b ? a : b; }

/* Division rounding towards minus / plus infinity, for b > 0 and either sign of a (a > INT_MIN), without
 * an intermediate that can overflow (-a + b - 1 did, for a stride near INT_MAX). */
static inline int small_floor_div(int a, int b) { return a >= 0 ? a / b : -1 - (-1 - a) / b; }
static inline int small_ceil_div(int a, int b) { return a > 0 ? 1 + (a - 1) / b : -(-a / b); }

/* Taps [lo, hi) of a window that starts at `start` and has `taps` taps `dilation` apart which
 * fall inside [0, size). hi == lo when none does. */
static inline void small_clip_window(int start, int taps, int dilation, int size, int *lo, int *hi) {
    if (dilation == 1) { /* the common case, without the divisions (tens of cycles each, per row and border) */
        *lo = start < 0 ? -start : 0;
        *hi = small_max_int(*lo, small_min_int(taps, size - start));
        return;
    }
    *lo = start < 0 ? small_ceil_div(-start, dilation) : 0;
    *hi = small_max_int(*lo, small_min_int(taps, small_floor_div(size - 1 - start, dilation) + 1));
}

/* Outputs [*lo, *hi) along one axis whose whole window lies inside the input (no tap in padding).
 * Inlined: a call cost Cortex-M55 up to 48 stores per small layer. */
static inline __attribute__((always_inline)) void small_inside_range(int pad, int stride, int taps, int dilation,
                                                              int in_size, int out_size, int *lo, int *hi) {
    const int reach = (taps - 1) * dilation;
    *lo = small_min_int(small_ceil_div(pad, stride), out_size);
    *hi = small_max_int(*lo, small_min_int(out_size, small_floor_div(in_size - 1 - reach + pad, stride) + 1));
}


/* ---- The plan: how a layer is walked, decided once ----------------------------------------------
 *
 * The nest's work is cut into units. A spatial unit is one output row, or, for a 1x1 layer walked as
 * one long row, a stretch of FLAT_CHUNK_TILES pixel tiles. With enough of them, a unit is a spatial
 * unit of every channel block: a thread then computes the same rows in every layer, and finds its
 * input in its own cache. With few (a small image of many channels), a unit is a spatial unit of one
 * channel block, so that the blocks spread over the threads. Either way each (row, block) is computed
 * by the same kernel calls whoever runs it, so outputs are bit-identical for any number of threads.
 *
 * What depends on the layer and the kernel alone is decided once by small_nest_plan_make (nest_plan.c):
 * the view walked (the layer as laid out, as one long row, or transposed), how spatial units are cut,
 * the interior columns, the channel blocks, whether the pool is worth it. A walk (nest.c) sets up its
 * working record (small_nest_walk, nest_walk.h: steps and tile fields, a few dozen integer operations, which
 * cost an inference fewer instructions than reading them from a stored record would) from the planned
 * view, adds the data and what 2+ threads change (a small image's channel blocks shared out), and
 * walks. */
/* small_nest_walk, the working record, is defined per element type by the walk's template (nest_walk.h). */


typedef struct {
    int matvec;               /* the FC kind: units are channel blocks */
    int flattened;            /* a 1x1 layer walked as one long row */
    int transposed;           /* walked by columns */
    int chunk, chunks;        /* a spatial unit's output pixels, and units per walked row */
    int ow_lo, ow_hi;         /* interior columns: the whole window row inside the input */
    int columns;              /* channelwise, with border columns (run_units_columns) */
    int parallel;             /* enough MACs to hand to the pool at 2+ threads */
    int can_split_blocks;     /* channelwise on an image of at most one pixel tile, blocked: at 2+
                               * threads its channel blocks are shared out (nest.c) */
    int blocks;               /* channel blocks of a group */
} small_nest_plan;

/* Plans the walk of n with kernel k (its tile on this CPU). The plan is a few integers (a model keeps
 * one per layer, on a microcontroller's heap too); the walk makes the view it names from the nest. */
void small_nest_plan_make(small_nest_plan *p, const small_nest *n, const small_kernel_choice *k);

/* Walks n, planned by p with k, over the whole output on `threads` threads: what small_pool_enter gave
 * the run (threads.h), or 1 for a part of a layer already split across threads. x2 is the second input
 * of ADD, else NULL. */
void small_nest_walk_matvec(const small_nest_plan *p, const small_nest *n, const small_kernel_choice *k, const float *x,
                            float *y, int threads);
void small_nest_walk_nest(const small_nest_plan *p, const small_nest *n, const small_kernel_choice *k, const float *x,
                          const float *x2, float *y, int threads);
/* Inlined, so that a walk is one call with its arguments (each past the registers a store and a load on
 * 32-bit ARM: QEMU counts). */
static inline void small_nest_walk_run(const small_nest_plan *p, const small_nest *n, const small_kernel_choice *k,
                                       const float *x, const float *x2, float *y, int threads) {
    if (p->matvec)
        small_nest_walk_matvec(p, n, k, x, y, threads);
    else
        small_nest_walk_nest(p, n, k, x, x2, y, threads);
}

/* The same walks over int8 tensors, for the int8 kinds (SMALL_KERNEL_S8_*): the one nest, instantiated
 * for int8 elements (nest_walk.h, nest_s8.c); n's weights_s8, requant and s8 are used. */
void small_nest_walk_matvec_s8(const small_nest_plan *p, const small_nest *n, const small_kernel_choice *k,
                               const int8_t *x, int8_t *y, int threads);
void small_nest_walk_nest_s8(const small_nest_plan *p, const small_nest *n, const small_kernel_choice *k,
                             const int8_t *x, const int8_t *x2, int8_t *y, int threads);
static inline void small_nest_walk_run_s8(const small_nest_plan *p, const small_nest *n, const small_kernel_choice *k,
                                          const int8_t *x, const int8_t *x2, int8_t *y, int threads) {
    if (p->matvec)
        small_nest_walk_matvec_s8(p, n, k, x, y, threads);
    else
        small_nest_walk_nest_s8(p, n, k, x, x2, y, threads);
}

/* The view of n that a plan walks: n itself, or flattened to one long row, or transposed. */
void small_nest_view(const small_nest_plan *p, const small_nest *n, small_nest *view);

/* Plans and walks in one call: for nests made at run time (concat's slices, a pool's halves). */
void small_nest_run(const small_nest *n, const small_kernel_choice *k, const float *x, const float *x2, float *y,
                    int threads);

/* Packs OHWI weights [out][taps][depth] into the block layout the kernel k reads. */
void small_pack_weights(const small_kernel_choice *k, const float *ohwi, int out_channels, int groups,
                        int taps, int depth, float *packed);
/* The same layout, of int8 weights. */
void small_pack_weights_s8(const small_kernel_choice *k, const int8_t *ohwi, int out_channels, int groups,
                           int taps, int depth, int8_t *packed);

#endif
