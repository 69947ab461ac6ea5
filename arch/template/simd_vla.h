/* simd_vla.h: every kernel kind for a vector-length agnostic ISA (RVV, SVE), written once. An ISA file
 * defines the primitives below, then includes this file, which defines its kernels, its FMA-peak
 * probe and its table `small_table_<isa>` (see arch/rvv/rvv.c).
 *
 * The channel tile is one vector, whatever length the hardware has: the same binary runs at every
 * vector length. Vector types are sizeless (no arrays, no struct members), so a tile is a fixed set
 * of named accumulators a0..a7, and pixel counts past a kernel's tile fold away as constants.
 *
 *   VLA_ISA                      the ISA's name, a bare word: kernels are <isa>_conv, <isa>_dwconv ...
 *   VLA_VECTOR                   a bare word, how a vector is named in kernel names: m4 for an RVV LMUL-4
 *                                group; the primitives may expand VLA_GROUP, which is this word or a conv group's
 *   vla_v                        the vector type
 *   vla_tail                     what selects the lanes of an operation: a vector length, or a predicate
 *   vla_lanes()                  int: floats per vector on this CPU (the channel tile)
 *   vla_tail_of(n)               the first n lanes, 0 < n <= vla_lanes()
 *   vla_load(p, tail), vla_store(p, v, tail)   only the tail's lanes are read or written
 *   vla_dup(x, tail)             lanes set to x
 *   vla_fma_scalar(acc, w, x, tail)  acc + w * x, x a float, fused
 *   vla_fma(acc, a, b, tail)     acc + a * b, fused
 *   vla_add(a, b, tail), vla_mul_scalar(a, x, tail)
 *   vla_max(a, b, tail), vla_min(a, b, tail)  NaN if either lane is NaN (one NaN semantics everywhere)
 *   vla_neg_select(v, a, tail)   a where v < 0, else v (leaky ReLU)
 *   vla_supported()              int: whether this CPU runs the ISA
 *   VLA_CONV_PIXELS, VLA_WINDOW_PIXELS   1 to 8: the tiles' pixels, within the register file
 *   VLA_PEAK_CHAINS              independent FMA chains of the peak probe (up to 8)
 * Optional:
 *   VLA_CONV_GROUPS              1 to 4 (default 1): conv kernels in narrower register groups besides
 *   VLA_CONV_GROUP_1 .. _3       VLA_VECTOR, widest first (m2, m1, mf2), with their pixel tiles
 *   VLA_CONV_PIXELS_1 .. _3      VLA_CONV_PIXELS_1 ..; the library takes per layer the one leaving the
 *                                fewest lanes idle on the layer's output channels
 *   vla_group_index(c), vla_group_load(x, n, index), vla_group_sum(acc, c, groups)
 *                                a conv tile of c channels, at most half a vector, holds vla_lanes() / c
 *                                input channels at once, one per group of c lanes (see simd_vla_group.h)
 *   vla_pixel_index(c, step), vla_channel_index(c), vla_group_shift(a, first)
 *                                with the above: or g pixels at once, group i taking pixel i (lane l:
 *                                input (l / c) * step, weight l % c; shift: lanes from `first` on to 0)
 */
#ifndef VLA_ISA
#error "define the vector-length agnostic primitives (see the comment above) before including simd_vla.h"
#endif
#include <math.h>
#include <stddef.h>

#include "small_kernel.h"

#define VLA_CAT_(a, b) a##_##b
#define VLA_CAT(a, b) VLA_CAT_(a, b)
#define VLA_FN(name) VLA_CAT(VLA_ISA, name)
#define VLA_STR_(x) #x
#define VLA_STR(x) VLA_STR_(x)
#define VLA_INLINE static inline __attribute__((always_inline))

#ifndef VLA_CONV_GROUPS
#define VLA_CONV_GROUPS 1
#endif
_Static_assert(VLA_CONV_GROUPS >= 1 && VLA_CONV_GROUPS <= 4, "1 to 4 conv register groups");
_Static_assert(VLA_CONV_PIXELS >= 1 && VLA_CONV_PIXELS <= 8 && VLA_WINDOW_PIXELS >= 1 && VLA_WINDOW_PIXELS <= 8,
               "tiles have 1 to 8 named accumulators");

/* Pixel p's input, p clamped to the last real pixel: a partial tile computes its missing pixels on
 * valid data and does not store them. */
VLA_INLINE const float *pixel_input(const small_tile *t, const float *x, int p) {
    return x + (ptrdiff_t)(p < t->pixels ? p : t->pixels - 1) * t->x_pixel_step;
}

/* The epilogue and conv, once per register group (simd_vla_group.h): first VLA_VECTOR, which every
 * other kind takes, then each narrower conv group the ISA lists, each a kernel of its own. */
#define VLA_G(name) VLA_CAT(name, VLA_GROUP)
#define VLA_GROUP VLA_VECTOR
#define VLA_GROUP_PIXELS VLA_CONV_PIXELS
#include "simd_vla_group.h"
#define activate VLA_G(activate)
#define store_pixel VLA_G(store_pixel)

/* ---- fully connected: a matrix-vector product, one pixel, up to two vectors of outputs. Each weight
 * is used once per inference, so the kernel is bound by streaming them: packed [depth][block width],
 * read front to back. Interleaved partial sums over the inputs (two per vector, four for a lone
 * vector) keep four FMA chains in flight; they are added in one fixed order at the end. */
VLA_INLINE void fc_store(const small_tile *t, vla_v sum, int c, vla_tail tail) {
    if (t->bias) sum = vla_add(sum, vla_load(t->bias + c, tail), tail);
    vla_store(t->y + c, activate(sum, t, tail), tail);
}

void VLA_FN(fc)(const small_tile *t) {
    const int lanes = vla_lanes();
    const ptrdiff_t nc = t->channels; /* weight row width */
    const float *x = t->x, *w = t->w;
    int k = 0;
    if (t->channels > lanes) {
        const vla_tail t0 = vla_tail_of(lanes), t1 = vla_tail_of(t->channels - lanes);
        vla_v a0 = vla_dup(0.0f, t0), a1 = a0, b0 = vla_dup(0.0f, t1), b1 = b0;
        for (; k + 2 <= t->depth; k += 2, w += 2 * nc) {
            a0 = vla_fma_scalar(a0, vla_load(w, t0), x[k], t0);
            b0 = vla_fma_scalar(b0, vla_load(w + lanes, t1), x[k], t1);
            a1 = vla_fma_scalar(a1, vla_load(w + nc, t0), x[k + 1], t0);
            b1 = vla_fma_scalar(b1, vla_load(w + nc + lanes, t1), x[k + 1], t1);
        }
        if (k < t->depth) {
            a0 = vla_fma_scalar(a0, vla_load(w, t0), x[k], t0);
            b0 = vla_fma_scalar(b0, vla_load(w + lanes, t1), x[k], t1);
        }
        fc_store(t, vla_add(a0, a1, t0), 0, t0);
        fc_store(t, vla_add(b0, b1, t1), lanes, t1);
        return;
    }
    const vla_tail t0 = vla_tail_of(t->channels);
    vla_v a0 = vla_dup(0.0f, t0), a1 = a0, a2 = a0, a3 = a0;
    for (; k + 4 <= t->depth; k += 4, w += 4 * nc) {
        a0 = vla_fma_scalar(a0, vla_load(w, t0), x[k], t0);
        a1 = vla_fma_scalar(a1, vla_load(w + nc, t0), x[k + 1], t0);
        a2 = vla_fma_scalar(a2, vla_load(w + 2 * nc, t0), x[k + 2], t0);
        a3 = vla_fma_scalar(a3, vla_load(w + 3 * nc, t0), x[k + 3], t0);
    }
    for (; k < t->depth; ++k, w += nc) a0 = vla_fma_scalar(a0, vla_load(w, t0), x[k], t0);
    fc_store(t, vla_add(vla_add(a0, a1, t0), vla_add(a2, a3, t0), t0), 0, t0);
}

/* Two vectors of outputs per call. */
/* In unsigned arithmetic: GCC 12 and 14 crash (an internal compiler error) instrumenting a signed
 * multiply of SVE's vector length for UBSan (aarch64-sanitizers). */
static int VLA_FN(fc_channels)(void) { return (int)(2u * (unsigned)vla_lanes()); }

/* ---- The window kinds (depthwise, max and average pooling): np pixels x one vector of channels;
 * per tap, one weight load (depthwise), then per pixel one input load and one FMA, max or add. */
typedef enum { WINDOW_DWCONV, WINDOW_MAX, WINDOW_AVG } window_op;

VLA_INLINE vla_v window_step(vla_v a, const float *x, vla_v w, window_op op, vla_tail tail) {
    const vla_v v = vla_load(x, tail);
    if (op == WINDOW_DWCONV) return vla_fma(a, v, w, tail);
    if (op == WINDOW_MAX) return vla_max(a, v, tail);
    return vla_add(a, v, tail);
}

VLA_INLINE void window_tile(const small_tile *t, const int np, const window_op op) {
    const vla_tail tail = vla_tail_of(t->channels);
    const float *x0 = pixel_input(t, t->x, 0), *x1 = pixel_input(t, t->x, 1), *x2 = pixel_input(t, t->x, 2);
    const float *x3 = pixel_input(t, t->x, 3), *x4 = pixel_input(t, t->x, 4), *x5 = pixel_input(t, t->x, 5);
    const float *x6 = pixel_input(t, t->x, 6), *x7 = pixel_input(t, t->x, 7);
    vla_v a0 = vla_dup(op == WINDOW_MAX ? -INFINITY : 0.0f, tail);
    if (op == WINDOW_DWCONV && t->bias) a0 = vla_load(t->bias, tail);
    vla_v a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    for (int i = 0; i < t->taps_h; ++i)
        for (int j = 0; j < t->taps_w; ++j) {
            const ptrdiff_t tap = i * t->x_row_step + j * t->x_col_step;
            /* Pools have no weights: w is then unused and folded away. */
            const vla_v w = op == WINDOW_DWCONV ? vla_load(t->w + i * t->w_row_step + j * t->w_col_step, tail) : a0;
            a0 = window_step(a0, x0 + tap, w, op, tail);
            if (np > 1) a1 = window_step(a1, x1 + tap, w, op, tail);
            if (np > 2) a2 = window_step(a2, x2 + tap, w, op, tail);
            if (np > 3) a3 = window_step(a3, x3 + tap, w, op, tail);
            if (np > 4) a4 = window_step(a4, x4 + tap, w, op, tail);
            if (np > 5) a5 = window_step(a5, x5 + tap, w, op, tail);
            if (np > 6) a6 = window_step(a6, x6 + tap, w, op, tail);
            if (np > 7) a7 = window_step(a7, x7 + tap, w, op, tail);
        }
    /* The nest counts only real taps (padding excluded), as TFLite's average pool does. */
    const float scale = op == WINDOW_AVG ? 1.0f / (float)(t->taps_h * t->taps_w) : 1.0f;
    store_pixel(t, a0, 0, np, scale, tail);
    store_pixel(t, a1, 1, np, scale, tail);
    store_pixel(t, a2, 2, np, scale, tail);
    store_pixel(t, a3, 3, np, scale, tail);
    store_pixel(t, a4, 4, np, scale, tail);
    store_pixel(t, a5, 5, np, scale, tail);
    store_pixel(t, a6, 6, np, scale, tail);
    store_pixel(t, a7, 7, np, scale, tail);
}

/* A row longer than the tile (whole_rows): whole tiles, then the rest. A function of its own, so
 * that its loop's registers do not cost every tile a larger frame (RISC-V counts). */
static __attribute__((noinline)) void window_row(const small_tile *tile, const window_op op) {
    enum { P = VLA_WINDOW_PIXELS };
    small_tile rest = *tile; /* one copy, its pixels P for the whole tiles */
    int left = tile->pixels;
    for (rest.pixels = P; left > P; left -= P) {
        window_tile(&rest, P, op);
        small_tile_skip(&rest, P);
    }
    rest.pixels = left;
    if (rest.pixels == 1) window_tile(&rest, 1, op);
    else window_tile(&rest, P, op);
}

VLA_INLINE void window(const small_tile *t, const window_op op) {
    if (t->pixels == 1) window_tile(t, 1, op);
    else if (t->pixels <= VLA_WINDOW_PIXELS) window_tile(t, VLA_WINDOW_PIXELS, op);
    else window_row(t, op);
}

void VLA_FN(dwconv)(const small_tile *t) { window(t, WINDOW_DWCONV); }
void VLA_FN(maxpool)(const small_tile *t) { window(t, WINDOW_MAX); }
void VLA_FN(avgpool)(const small_tile *t) { window(t, WINDOW_AVG); }

/* ---- add and copy: one tap, pixel by pixel, any number of pixels. */
VLA_INLINE void elementwise(const small_tile *t, const int add) {
    const vla_tail tail = vla_tail_of(t->channels);
    for (int p = 0; p < t->pixels; ++p) {
        const ptrdiff_t at = (ptrdiff_t)p * t->x_pixel_step;
        vla_v v = vla_load(t->x + at, tail);
        if (add) v = vla_add(v, vla_load(t->x2 + at, tail), tail);
        vla_store(t->y + (ptrdiff_t)p * t->y_pixel_step, activate(v, t, tail), tail);
    }
}

void VLA_FN(add)(const small_tile *t) { elementwise(t, 1); }
void VLA_FN(copy)(const small_tile *t) { elementwise(t, 0); }

/* ---- The FMA-peak probe: independent chains; returns the floating-point operations done. */
static double VLA_FN(peak)(long iterations, float *sink) {
    const int lanes = vla_lanes();
    const vla_tail tail = vla_tail_of(lanes);
    const vla_v scale = vla_dup(0.999999f, tail), step = vla_dup(1e-7f, tail);
    vla_v a0 = vla_dup(*sink, tail), a1 = vla_dup(*sink + 1, tail), a2 = vla_dup(*sink + 2, tail);
    vla_v a3 = vla_dup(*sink + 3, tail), a4 = vla_dup(*sink + 4, tail), a5 = vla_dup(*sink + 5, tail);
    vla_v a6 = vla_dup(*sink + 6, tail), a7 = vla_dup(*sink + 7, tail);
    for (long i = 0; i < iterations; ++i) {
        a0 = vla_fma(step, a0, scale, tail);
        if (VLA_PEAK_CHAINS > 1) a1 = vla_fma(step, a1, scale, tail);
        if (VLA_PEAK_CHAINS > 2) a2 = vla_fma(step, a2, scale, tail);
        if (VLA_PEAK_CHAINS > 3) a3 = vla_fma(step, a3, scale, tail);
        if (VLA_PEAK_CHAINS > 4) a4 = vla_fma(step, a4, scale, tail);
        if (VLA_PEAK_CHAINS > 5) a5 = vla_fma(step, a5, scale, tail);
        if (VLA_PEAK_CHAINS > 6) a6 = vla_fma(step, a6, scale, tail);
        if (VLA_PEAK_CHAINS > 7) a7 = vla_fma(step, a7, scale, tail);
    }
    vla_v sum = vla_add(vla_add(vla_add(a0, a1, tail), vla_add(a2, a3, tail), tail),
                        vla_add(vla_add(a4, a5, tail), vla_add(a6, a7, tail), tail), tail);
    float first;
    vla_store(&first, sum, vla_tail_of(1));
    *sink += first;
    return 2.0 * lanes * VLA_PEAK_CHAINS * (double)iterations;
}

#undef activate
#undef store_pixel

/* The narrower conv groups, each a kernel with its own name and tile. */
#if VLA_CONV_GROUPS > 1
#undef VLA_GROUP
#undef VLA_GROUP_PIXELS
#define VLA_GROUP VLA_CONV_GROUP_1
#define VLA_GROUP_PIXELS VLA_CONV_PIXELS_1
#include "simd_vla_group.h"
#endif
#if VLA_CONV_GROUPS > 2
#undef VLA_GROUP
#undef VLA_GROUP_PIXELS
#define VLA_GROUP VLA_CONV_GROUP_2
#define VLA_GROUP_PIXELS VLA_CONV_PIXELS_2
#include "simd_vla_group.h"
#endif
#if VLA_CONV_GROUPS > 3
#undef VLA_GROUP
#undef VLA_GROUP_PIXELS
#define VLA_GROUP VLA_CONV_GROUP_3
#define VLA_GROUP_PIXELS VLA_CONV_PIXELS_3
#include "simd_vla_group.h"
#endif
#undef VLA_GROUP

#define VLA_NAME(kind, pixels, group) "f32-" #kind "-" VLA_STR(pixels) "x" VLA_STR(group) "-" VLA_STR(VLA_ISA)
#define VLA_CONV_KERNEL(group, pixels, next)                                                                      \
    {.name = VLA_NAME(conv, pixels, group), .run = VLA_FN(VLA_CAT(conv, group)), .pixel_tile = pixels,              \
     .channel_tile_now = VLA_CAT(lanes, group), .narrower = next, .whole_rows = 1}

/* Widest first, each pointing at the next narrower (small_choose_kernel picks per layer). */
static const small_kernel_info VLA_FN(conv_groups)[VLA_CONV_GROUPS] = {
#if VLA_CONV_GROUPS > 1
    VLA_CONV_KERNEL(VLA_VECTOR, VLA_CONV_PIXELS, &VLA_FN(conv_groups)[1]),
#else
    VLA_CONV_KERNEL(VLA_VECTOR, VLA_CONV_PIXELS, 0),
#endif
#if VLA_CONV_GROUPS > 2
    VLA_CONV_KERNEL(VLA_CONV_GROUP_1, VLA_CONV_PIXELS_1, &VLA_FN(conv_groups)[2]),
#elif VLA_CONV_GROUPS > 1
    VLA_CONV_KERNEL(VLA_CONV_GROUP_1, VLA_CONV_PIXELS_1, 0),
#endif
#if VLA_CONV_GROUPS > 3
    VLA_CONV_KERNEL(VLA_CONV_GROUP_2, VLA_CONV_PIXELS_2, &VLA_FN(conv_groups)[3]),
    VLA_CONV_KERNEL(VLA_CONV_GROUP_3, VLA_CONV_PIXELS_3, 0),
#elif VLA_CONV_GROUPS > 2
    VLA_CONV_KERNEL(VLA_CONV_GROUP_2, VLA_CONV_PIXELS_2, 0),
#endif
};

#define VLA_LANES VLA_CAT(lanes, VLA_VECTOR)
#define VLA_CW_KERNEL(kind, pixels)                                                                               \
    {.name = VLA_NAME(kind, pixels, VLA_VECTOR), .run = VLA_FN(kind), .pixel_tile = pixels,                         \
     .channel_tile_now = VLA_LANES, .whole_rows = 1}

static const small_kernel_info VLA_FN(kernels)[SMALL_KERNEL_COUNT_] = {
    [SMALL_KERNEL_DWCONV] = VLA_CW_KERNEL(dwconv, VLA_WINDOW_PIXELS),
    [SMALL_KERNEL_MAXPOOL] = VLA_CW_KERNEL(maxpool, VLA_WINDOW_PIXELS),
    [SMALL_KERNEL_AVGPOOL] = VLA_CW_KERNEL(avgpool, VLA_WINDOW_PIXELS),
    [SMALL_KERNEL_ADD] = VLA_CW_KERNEL(add, 8),
    [SMALL_KERNEL_COPY] = VLA_CW_KERNEL(copy, 8),
    [SMALL_KERNEL_FC] = {.name = "f32-fc-1x2" VLA_STR(VLA_VECTOR) "-" VLA_STR(VLA_ISA), .run = VLA_FN(fc),
                         .pixel_tile = 1, .channel_tile_now = VLA_FN(fc_channels)},
};

/* Softmax stays portable: it is bound by exp and runs once per model (its entry is empty); conv comes in
 * register groups, widest first. */
const small_kernel_table VLA_CAT(small_table, VLA_ISA) = {
    .isa = VLA_STR(VLA_ISA),
    .supported = vla_supported,
    .kernels = {[SMALL_KERNEL_CONV] = &VLA_FN(conv_groups)[0],
                [SMALL_KERNEL_DWCONV] = &VLA_FN(kernels)[SMALL_KERNEL_DWCONV],
                [SMALL_KERNEL_MAXPOOL] = &VLA_FN(kernels)[SMALL_KERNEL_MAXPOOL],
                [SMALL_KERNEL_AVGPOOL] = &VLA_FN(kernels)[SMALL_KERNEL_AVGPOOL],
                [SMALL_KERNEL_ADD] = &VLA_FN(kernels)[SMALL_KERNEL_ADD],
                [SMALL_KERNEL_COPY] = &VLA_FN(kernels)[SMALL_KERNEL_COPY],
                [SMALL_KERNEL_FC] = &VLA_FN(kernels)[SMALL_KERNEL_FC]},
    .peak = VLA_FN(peak),
};
