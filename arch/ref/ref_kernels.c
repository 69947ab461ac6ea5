/* Portable C kernels: the reference for every ISA and the fallback for any kind an ISA lacks (the
 * last table of every chain).
 * Plain loops over the tile contract of lib/src/small_kernel.h; no ISA assumptions. */
#include <math.h>

#include "small_kernel.h"

enum { REF_PIXELS = 4, REF_CHANNELS = 8 };

static void store_tile(const small_tile *t, float acc[REF_PIXELS][REF_CHANNELS]) {
    for (int p = 0; p < t->pixels; ++p)
        for (int c = 0; c < t->channels; ++c)
            t->y[p * t->y_pixel_step + c] = small_activate(acc[p][c], t->activation, t->alpha);
}

static void init_with_bias(const small_tile *t, float acc[REF_PIXELS][REF_CHANNELS]) {
    for (int p = 0; p < t->pixels; ++p)
        for (int c = 0; c < t->channels; ++c) acc[p][c] = t->bias ? t->bias[c] : 0.0f;
}

static void conv_ref(const small_tile *t) {
    float acc[REF_PIXELS][REF_CHANNELS];
    init_with_bias(t, acc);
    for (int i = 0; i < t->taps_h; ++i)
        for (int j = 0; j < t->taps_w; ++j) {
            const float *w = t->w + i * t->w_row_step + j * t->w_col_step;
            for (int p = 0; p < t->pixels; ++p) {
                const float *x = t->x + p * t->x_pixel_step + i * t->x_row_step + j * t->x_col_step;
                for (int k = 0; k < t->depth; ++k)
                    for (int c = 0; c < t->channels; ++c) acc[p][c] += x[k] * w[k * t->channels + c];
            }
        }
    store_tile(t, acc);
}

/* One output at a time, inputs in order: packed [depth][channels] for the block. */
static void fc_ref(const small_tile *t) {
    for (int c = 0; c < t->channels; ++c) {
        float acc = t->bias ? t->bias[c] : 0.0f;
        for (int k = 0; k < t->depth; ++k) acc += t->x[k] * t->w[(ptrdiff_t)k * t->channels + c];
        t->y[c] = small_activate(acc, t->activation, t->alpha);
    }
}

static void dwconv_ref(const small_tile *t) {
    float acc[REF_PIXELS][REF_CHANNELS];
    init_with_bias(t, acc);
    for (int i = 0; i < t->taps_h; ++i)
        for (int j = 0; j < t->taps_w; ++j) {
            const float *w = t->w + i * t->w_row_step + j * t->w_col_step;
            for (int p = 0; p < t->pixels; ++p) {
                const float *x = t->x + p * t->x_pixel_step + i * t->x_row_step + j * t->x_col_step;
                for (int c = 0; c < t->channels; ++c) acc[p][c] += x[c] * w[c];
            }
        }
    store_tile(t, acc);
}

/* Max and average share the window walk; the nest guarantees at least one tap for pools. */
static void pool_ref(const small_tile *t, int is_max) {
    float acc[REF_PIXELS][REF_CHANNELS];
    for (int p = 0; p < t->pixels; ++p)
        for (int c = 0; c < t->channels; ++c) acc[p][c] = is_max ? -INFINITY : 0.0f;
    for (int i = 0; i < t->taps_h; ++i)
        for (int j = 0; j < t->taps_w; ++j)
            for (int p = 0; p < t->pixels; ++p) {
                const float *x = t->x + p * t->x_pixel_step + i * t->x_row_step + j * t->x_col_step;
                for (int c = 0; c < t->channels; ++c) /* a NaN in the window makes the max NaN */
                    acc[p][c] = is_max ? (x[c] > acc[p][c] || x[c] != x[c] ? x[c] : acc[p][c]) : acc[p][c] + x[c];
            }
    if (!is_max) {
        const float count = (float)(t->taps_h * t->taps_w);
        for (int p = 0; p < t->pixels; ++p)
            for (int c = 0; c < t->channels; ++c) acc[p][c] /= count;
    }
    store_tile(t, acc);
}

static void maxpool_ref(const small_tile *t) { pool_ref(t, 1); }
static void avgpool_ref(const small_tile *t) { pool_ref(t, 0); }

static void add_ref(const small_tile *t) {
    float acc[REF_PIXELS][REF_CHANNELS];
    for (int p = 0; p < t->pixels; ++p)
        for (int c = 0; c < t->channels; ++c)
            acc[p][c] = t->x[p * t->x_pixel_step + c] + t->x2[p * t->x_pixel_step + c];
    store_tile(t, acc);
}

static void copy_ref(const small_tile *t) {
    float acc[REF_PIXELS][REF_CHANNELS];
    for (int p = 0; p < t->pixels; ++p)
        for (int c = 0; c < t->channels; ++c) acc[p][c] = t->x[p * t->x_pixel_step + c];
    store_tile(t, acc);
}

/* Stable softmax: subtract the maximum before exponentiating, so no exp overflows. */
static void softmax_ref(const small_tile *t) {
    for (int p = 0; p < t->pixels; ++p) {
        const float *x = t->x + p * t->x_pixel_step;
        float *y = t->y + p * t->y_pixel_step;
        float max = x[0];
        for (int c = 1; c < t->channels; ++c) max = x[c] > max ? x[c] : max;
        float sum = 0.0f;
        for (int c = 0; c < t->channels; ++c) {
            y[c] = expf(x[c] - max);
            sum += y[c];
        }
        const float inv = 1.0f / sum;
        for (int c = 0; c < t->channels; ++c) y[c] *= inv;
    }
}

#define REF_KERNEL(kind, fn)                                                                                     \
    {.name = "f32-" #kind "-4x8-ref", .run = fn, .pixel_tile = REF_PIXELS, .channel_tile = REF_CHANNELS}

static const small_kernel_info ref_kernels[SMALL_KERNEL_COUNT_] = {
    [SMALL_KERNEL_CONV] = REF_KERNEL(conv, conv_ref),
    [SMALL_KERNEL_DWCONV] = REF_KERNEL(dwconv, dwconv_ref),
    [SMALL_KERNEL_MAXPOOL] = REF_KERNEL(maxpool, maxpool_ref),
    [SMALL_KERNEL_AVGPOOL] = REF_KERNEL(avgpool, avgpool_ref),
    [SMALL_KERNEL_ADD] = REF_KERNEL(add, add_ref),
    [SMALL_KERNEL_COPY] = REF_KERNEL(copy, copy_ref),
    [SMALL_KERNEL_SOFTMAX] = {.name = "f32-softmax-1xall-ref", .run = softmax_ref, .pixel_tile = 1},
    [SMALL_KERNEL_FC] = {.name = "f32-fc-1x8-ref", .run = fc_ref, .pixel_tile = 1, .channel_tile = REF_CHANNELS},
};

static int ref_supported(void) { return 1; }

/* The int8 kinds (ref_kernels_s8.c): conv, dwconv, fc. */
extern const small_kernel_info small_ref_s8_kernels[3];

/* The end of every chain: every kind, on any CPU. No FMA-peak probe: scalar code has no peak to
 * compare vector kernels with. */
const small_kernel_table small_table_ref = {
    .isa = "ref",
    .supported = ref_supported,
    .kernels = {[SMALL_KERNEL_CONV] = &ref_kernels[SMALL_KERNEL_CONV],
                [SMALL_KERNEL_DWCONV] = &ref_kernels[SMALL_KERNEL_DWCONV],
                [SMALL_KERNEL_MAXPOOL] = &ref_kernels[SMALL_KERNEL_MAXPOOL],
                [SMALL_KERNEL_AVGPOOL] = &ref_kernels[SMALL_KERNEL_AVGPOOL],
                [SMALL_KERNEL_ADD] = &ref_kernels[SMALL_KERNEL_ADD],
                [SMALL_KERNEL_COPY] = &ref_kernels[SMALL_KERNEL_COPY],
                [SMALL_KERNEL_SOFTMAX] = &ref_kernels[SMALL_KERNEL_SOFTMAX],
                [SMALL_KERNEL_FC] = &ref_kernels[SMALL_KERNEL_FC],
                [SMALL_KERNEL_S8_CONV] = &small_ref_s8_kernels[0],
                [SMALL_KERNEL_S8_DWCONV] = &small_ref_s8_kernels[1],
                [SMALL_KERNEL_S8_FC] = &small_ref_s8_kernels[2]},
};
