/* The shared loop nest: groups -> channel blocks -> output rows -> pixel tiles -> kernel (MAC
 * kinds; channelwise kinds take the channel blocks innermost, under the pixel tiles).
 *
 * Padding is never materialised. For each output row the nest clips the window's rows to the
 * input; along the row it splits pixels into the interior, where the whole window is inside the
 * input and pixels go to the kernel pixel_tile at a time, and the borders, where each pixel goes
 * alone with its own clipped columns. So a kernel only ever reads real input. */
#include "nest.h"

static int min_int(int a, int b) { return a < b ? a : b; }
static int max_int(int a, int b) { return a > b ? a : b; }

/* Division rounding towards minus / plus infinity, for b > 0 and either sign of a. */
static int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
static int ceil_div(int a, int b) { return -floor_div(-a, b); }

/* Taps [lo, hi) of a window that starts at `start` and has `taps` taps `dilation` apart which
 * fall inside [0, size). hi == lo when none does. */
static void clip_window(int start, int taps, int dilation, int size, int *lo, int *hi) {
    *lo = start < 0 ? ceil_div(-start, dilation) : 0;
    *hi = max_int(*lo, min_int(taps, floor_div(size - 1 - start, dilation) + 1));
}

static int channel_block(const small_kernel_choice *k, int group_channels) {
    return k->channel_tile > 0 ? k->channel_tile : group_channels;
}

/* A plain reshuffle whose loop compares dominated the fuzzer's time (libFuzzer traces every compare)
 * while teaching it nothing; AddressSanitizer still checks every access. */
#if defined(__clang__)
__attribute__((no_sanitize("coverage")))
#endif
void small_pack_weights(const small_kernel_choice *k, const float *ohwi, int out_channels, int groups,
                        int taps, int depth, float *packed) {
    const int group_out = out_channels / groups;
    const int block = channel_block(k, group_out);
    for (int g = 0; g < groups; ++g) {
        const int group_end = (g + 1) * group_out;
        for (int c0 = g * group_out; c0 < group_end; c0 += block) {
            const int nc = min_int(block, group_end - c0);
            float *dst = packed + (size_t)c0 * taps * depth;
            for (int c = 0; c < nc; ++c)
                for (int tap = 0; tap < taps; ++tap)
                    for (int d = 0; d < depth; ++d)
                        dst[((size_t)tap * depth + d) * nc + c] =
                            ohwi[((size_t)(c0 + c) * taps + tap) * depth + d];
        }
    }
}

void small_nest_run(const small_nest *n, const small_kernel_choice *k, const float *x, const float *x2, float *y) {
    /* A 1x1 window with stride 1 and no padding reads input pixel i for output pixel i, and both
     * tensors store their rows back to back: walk them as one long row, so that pixel tiles run on
     * across row ends instead of leaving a partial tile at the end of every row. */
    small_nest flat;
    if (n->kernel_h == 1 && n->kernel_w == 1 && n->stride_h == 1 && n->stride_w == 1 && n->pad_top == 0 &&
        n->pad_left == 0 && n->in.h == n->out.h && n->in.w == n->out.w && n->out.h > 1) {
        flat = *n;
        flat.in.w = flat.out.w = n->out.h * n->out.w;
        flat.in.h = flat.out.h = 1;
        n = &flat;
    }
    const int mac = n->depth > 0; /* broadcast-MAC ops reduce over a group's input channels */
    const int groups = mac ? n->groups : 1;
    const int group_out = n->out.c / groups;
    const int block = channel_block(k, group_out);
    const int depth = mac ? n->depth : 1;
    const ptrdiff_t in_c = n->in.c;
    const ptrdiff_t x_row_step = (ptrdiff_t)n->dilation_h * n->in.w * in_c;
    const ptrdiff_t x_col_step = (ptrdiff_t)n->dilation_w * in_c;
    /* Interior columns [ow_lo, ow_hi): the whole window row lies inside the input. */
    const int reach = (n->kernel_w - 1) * n->dilation_w;
    const int ow_lo = min_int(ceil_div(n->pad_left, n->stride_w), n->out.w);
    const int ow_hi = max_int(ow_lo, min_int(n->out.w,
                                             floor_div(n->in.w - 1 - reach + n->pad_left, n->stride_w) + 1));

    small_tile t = {0};
    t.x_pixel_step = (ptrdiff_t)n->stride_w * in_c;
    t.x_row_step = x_row_step;
    t.x_col_step = x_col_step;
    t.depth = depth;
    t.y_pixel_step = n->y_pixel_step;
    t.activation = n->activation;
    t.alpha = n->alpha;

    /* MAC kinds walk channel blocks outermost, so that a block's packed weights stay in cache over
     * the whole output. Channelwise kinds have no weights to keep (or a few): they walk blocks
     * innermost, so that each pixel's channels are read contiguously, which the prefetchers follow
     * far better than short runs a channel block apart. */
    for (int g = 0; g < groups; ++g) {
        const int group_end = (g + 1) * group_out;
        for (int b0 = g * group_out; b0 < group_end; b0 += mac ? block : group_out) {
            const int b_end = mac ? min_int(b0 + block, group_end) : group_end;
            for (int oh = 0; oh < n->out.h; ++oh) {
                const int ih0 = oh * n->stride_h - n->pad_top;
                int i_lo, i_hi;
                clip_window(ih0, n->kernel_h, n->dilation_h, n->in.h, &i_lo, &i_hi);
                for (int ow = 0; ow < n->out.w; ow += t.pixels) {
                    const int iw0 = ow * n->stride_w - n->pad_left;
                    int j_lo = 0, j_hi = n->kernel_w; /* the interior's whole window row: no division */
                    if (ow >= ow_lo && ow < ow_hi) {
                        t.pixels = min_int(k->pixel_tile, ow_hi - ow);
                    } else {
                        clip_window(iw0, n->kernel_w, n->dilation_w, n->in.w, &j_lo, &j_hi);
                        t.pixels = 1;
                    }
                    t.taps_h = i_hi - i_lo;
                    t.taps_w = j_hi - j_lo;
                    /* An empty window reads nothing; point at the tensor start to stay in bounds. */
                    const ptrdiff_t x_offset =
                        (t.taps_h && t.taps_w)
                            ? ((ptrdiff_t)(ih0 + i_lo * n->dilation_h) * n->in.w + (iw0 + j_lo * n->dilation_w)) * in_c
                            : 0;
                    for (int c0 = b0; c0 < b_end; c0 += block) {
                        const int nc = min_int(block, group_end - c0);
                        const ptrdiff_t x_channel = mac ? (ptrdiff_t)g * n->depth : c0;
                        t.channels = nc;
                        t.bias = n->bias ? n->bias + c0 : 0;
                        t.w_col_step = (ptrdiff_t)depth * nc;
                        t.w_row_step = (ptrdiff_t)n->kernel_w * depth * nc;
                        t.x = x + x_offset + x_channel;
                        t.x2 = x2 ? x2 + x_offset + x_channel : 0;
                        t.w = n->weights ? n->weights + (size_t)c0 * n->kernel_h * n->kernel_w * depth +
                                               ((ptrdiff_t)i_lo * n->kernel_w + j_lo) * depth * nc
                                         : 0;
                        t.y = y + ((ptrdiff_t)oh * n->out.w + ow) * n->y_pixel_step + c0;
                        k->info->run(&t);
                    }
                }
            }
        }
    }
}
