/* winograd.h: 3x3 stride-1 convs through Winograd F(2x2, 3x3), where the conv kernel offers the
 * transforms (small_kernel.h). */
#ifndef SMALL_WINOGRAD_H
#define SMALL_WINOGRAD_H

#include "nest.h"

/* Whether a planned conv layer is computed this way: a 3x3 window, stride and dilation 1, one group,
 * at least WINOGRAD_MIN_CHANNELS channels in and out, an output of 2x2 or more, a kernel with the
 * transforms, and a workspace of enough tiles. It depends on the layer and the kernel alone. */
int small_winograd_applies(const small_nest *n, const small_kernel_choice *k);

/* Packs OHWI 3x3 weights, transformed (U = G g G^T, 16 points), for the conv kernel k: as
 * small_pack_weights packs a conv of 16 taps, so that point p of a channel block is a 1x1 conv's weights. */
void small_pack_winograd(const small_kernel_choice *k, const float *ohwi, int out_channels, int depth, float *packed);

/* Runs the layer on `threads` threads, with its weights as small_pack_winograd packed them. Returns
 * nonzero when a result was not finite: the caller then computes the layer directly, which overwrites
 * the whole output. */
int small_winograd_run(const small_nest *n, const small_kernel_choice *k, const float *transformed, const float *x,
                       float *y, int threads);

#endif
