/* Portable C int8 kernels (SMALL_KERNEL_S8_*): the reference for every ISA's int8 kernels and the
 * fallback, in arch/ref's table (ref_kernels.c). The arithmetic of TFLite's reference kernels
 * (tests/reference_int8.py), over the tile contract of lib/src/small_kernel.h: sums in int32, wrapping
 * as TFLite's do (computed in uint32, where wrapping is defined). */
#include <math.h>

#include "small_kernel.h"

enum { REF_PIXELS = 4, REF_CHANNELS = 8 };

static void init_with_bias(const small_tile_s8 *t, uint32_t acc[REF_PIXELS][REF_CHANNELS]) {
    for (int p = 0; p < t->pixels; ++p)
        for (int c = 0; c < t->channels; ++c) acc[p][c] = (uint32_t)t->requant[c].bias;
}

/* Per channel: MultiplyByQuantizedMultiplier, the output's zero point, the clamp. */
static void store_tile(const small_tile_s8 *t, uint32_t acc[REF_PIXELS][REF_CHANNELS]) {
    for (int p = 0; p < t->pixels; ++p)
        for (int c = 0; c < t->channels; ++c) {
            const small_s8_channel *r = &t->requant[c];
            t->y[p * t->y_pixel_step + c] = small_s8_store(small_s8_requantize((int32_t)acc[p][c], r->multiplier, r->shift), &t->s8);
        }
}

/* reference_integer_ops::ConvPerChannel: sum of (x - x_zero) * w. */
static void s8_conv_ref(const small_tile_s8 *t) {
    uint32_t acc[REF_PIXELS][REF_CHANNELS];
    init_with_bias(t, acc);
    const int32_t zero = t->s8.x_zero;
    for (int i = 0; i < t->taps_h; ++i)
        for (int j = 0; j < t->taps_w; ++j) {
            const int8_t *w = t->w + i * t->w_row_step + j * t->w_col_step;
            for (int p = 0; p < t->pixels; ++p) {
                const int8_t *x = t->x + p * t->x_pixel_step + i * t->x_row_step + j * t->x_col_step;
                for (int k = 0; k < t->depth; ++k)
                    for (int c = 0; c < t->channels; ++c)
                        acc[p][c] += (uint32_t)((x[k] - zero) * w[k * t->channels + c]);
            }
        }
    store_tile(t, acc);
}

/* reference_integer_ops::DepthwiseConvPerChannel (depth multiplier 1: a larger one is a grouped conv). */
static void s8_dwconv_ref(const small_tile_s8 *t) {
    uint32_t acc[REF_PIXELS][REF_CHANNELS];
    init_with_bias(t, acc);
    const int32_t zero = t->s8.x_zero;
    for (int i = 0; i < t->taps_h; ++i)
        for (int j = 0; j < t->taps_w; ++j) {
            const int8_t *w = t->w + i * t->w_row_step + j * t->w_col_step;
            for (int p = 0; p < t->pixels; ++p) {
                const int8_t *x = t->x + p * t->x_pixel_step + i * t->x_row_step + j * t->x_col_step;
                for (int c = 0; c < t->channels; ++c) acc[p][c] += (uint32_t)((x[c] - zero) * w[c]);
            }
        }
    store_tile(t, acc);
}

/* reference_integer_ops::FullyConnected(PerChannel), LiteRT 2.3.0: the sum, then (int32) round((double)acc *
 * scale), ties away from zero. The input's zero point is folded into the bias (requant.bias: the window
 * is always whole), so the sum is of x * w alone, as a dot-product kernel computes it. */
static void s8_fc_ref(const small_tile_s8 *t) {
    for (int c = 0; c < t->channels; ++c) {
        const small_s8_channel *r = &t->requant[c];
        uint32_t acc = (uint32_t)r->bias;
        for (int k = 0; k < t->depth; ++k) acc += (uint32_t)(t->x[k] * t->w[(ptrdiff_t)k * t->channels + c]);
        const double v = round((double)(int32_t)acc * r->scale);
        const int32_t scaled = v >= 2147483647.0 ? INT32_MAX : v <= -2147483648.0 ? INT32_MIN : (int32_t)v;
        t->y[c] = small_s8_store(scaled, &t->s8);
    }
}

const small_kernel_info small_ref_s8_kernels[3] = {
    {.name = "s8-conv-4x8-ref", .run_s8 = s8_conv_ref, .pixel_tile = REF_PIXELS, .channel_tile = REF_CHANNELS},
    {.name = "s8-dwconv-4x8-ref", .run_s8 = s8_dwconv_ref, .pixel_tile = REF_PIXELS, .channel_tile = REF_CHANNELS},
    {.name = "s8-fc-1x8-ref", .run_s8 = s8_fc_ref, .pixel_tile = 1, .channel_tile = REF_CHANNELS},
};
