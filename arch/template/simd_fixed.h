/* simd_fixed.h: every kernel kind for a fixed-width SIMD ISA, written once. An ISA file defines the
 * primitives below, then includes this file, which defines its kernels, its FMA-peak probe and its
 * table `small_table_<isa>` (see arch/avx2/avx2.c; docs/PORTING.md walks through a port).
 *
 *   SIMD_ISA                      the ISA's name, a bare word: kernels are <isa>_conv, <isa>_dwconv ...
 *   SIMD_LANES                    floats per vector
 *   simd_v                        the vector type
 *   simd_tail                     what a partial load or store needs: a mask, or just the lane count
 *   simd_tail_of(n)               the tail of the first n lanes, 0 < n < SIMD_LANES
 *   simd_load(p), simd_store(p, v)
 *   simd_load_tail(p, tail)       the tail's lanes, the others 0; reads nothing beyond them
 *   simd_store_tail(p, v, tail)   writes the tail's lanes only
 *   simd_zero(), simd_dup(x)      all lanes 0, all lanes x
 *   simd_fma(acc, a, b)           acc + a * b, fused
 *   simd_add(a, b), simd_mul(a, b)
 *   simd_max(a, b), simd_min(a, b)  NaN if either lane is NaN (one NaN semantics on every ISA)
 *   simd_neg_select(v, a)         a where v < 0, else v (leaky ReLU)
 *   simd_supported()              int: whether this CPU runs the ISA (cpuid, getauxval ...)
 *   SIMD_CONV_PIXELS, SIMD_CONV_CHANNELS  the conv register tile (CHANNELS a multiple of LANES)
 * Optional, with defaults:
 *   SIMD_CONV_SPLITS              interleaved partial sums of a lone pixel (its FMA chains in flight): 4
 *   SIMD_CW_PIXELS, SIMD_CW_CHANNELS      the channel-by-channel kinds' tile: conv's pixels, 32
 *   SIMD_DW_ROW_VECTORS           vectors per pass of the 3-wide depthwise row reuse (1 or 2; 0: off): 1
 *   SIMD_KEEP_IN_REGISTER(v)      a statement that makes the compiler hold v in a register (an empty
 *                                 asm), where it would fold v's load into each use instead: nothing
 *   SIMD_PEAK_CHAINS              independent FMA chains of the peak probe (> FMA latency x ports): 16
 *   SIMD_FC_CHANNELS, SIMD_FC_SPLITS  the fully connected tile (a literal, 1 to 4 whole vectors) and
 *                                 its interleaved partial sums over the inputs: 4 vectors, 2
 *   simd_max_const(c, v), simd_min_const(c, v)  max and min with a constant c that is never NaN, NaN
 *                                 where v is: cheaper than simd_max/min on x86 (the activations)
 *   SIMD_LANE_FMA, simd_fma_lane(acc, w, x, lane)  acc + w * x[lane]: conv then reduces SIMD_LANES
 *                                 input channels per step from one vector load (ASIMD's fmla by element)
 *   SIMD_PAIRS                    conv of LANES / 2 outputs reduces two inputs per vector (conv_pairs_tile),
 *                                 with simd_load_pair_repeat(p) (the 2 floats at p in every lane pair),
 *                                 simd_load_even_repeat(p) (*p in the even lanes, 0 in the odd),
 *                                 simd_load_zip_halves(p) (LANES floats at p, the halves a and b as
 *                                 a0 b0 a1 b1 ...), simd_load_zip_zero(p) (LANES / 2 floats at p in the
 *                                 even lanes, 0 in the odd), simd_add_pairs(a, b) (a's lane pairs summed
 *                                 in the low half, b's in the high half)
 *   SIMD_WHOLE_ROWS               1 (default): kernels take a row's whole interior per call (whole_rows in
 *                                 small_kernel.h); 0: a tile per call, where the row's loop costs the
 *                                 tile registers (MVE: 5% more instructions on ResNet-8)
 *   SIMD_WINOGRAD                 the conv kernel offers the Winograd F(2x2, 3x3) transforms (small_kernel.h),
 *                                 and 3x3 stride-1 convs go through them (lib/src/winograd.c); they keep a
 *                                 workspace of up to 96 KiB on the stack (not for microcontrollers)
 *   simd_sub(a, b)                a - b: an FMA with -1 by default
 *   SIMD_LOAD_REPEAT, simd_load_repeat(p, n)  the n floats at p repeated across the vector (n = LANES / 2
 *                                 or LANES / 4, a constant): depthwise then computes a layer of that few
 *                                 channels LANES / n pixels per vector instead of idling lanes
 *
 * Every loop over a register tile has compile-time bounds after inlining, so the accumulator arrays
 * live in registers. Edge tiles are vector code: partial channel blocks through the tail; a partial
 * pixel tile of conv is a body of its own per pixel count, one of the other kinds computes its missing
 * pixels on the last real one's input and does not store them. */
#ifndef SIMD_ISA
#error "define the SIMD primitives (see the comment above) before including simd_fixed.h"
#endif
#include <math.h>
#include <stddef.h>

#include "small_kernel.h"

#ifndef SIMD_CONV_SPLITS
#define SIMD_CONV_SPLITS 4
#endif
#ifndef SIMD_CW_PIXELS
#define SIMD_CW_PIXELS SIMD_CONV_PIXELS
#endif
#ifndef SIMD_KEEP_IN_REGISTER
#define SIMD_KEEP_IN_REGISTER(v) ((void)0)
#endif
#ifndef SIMD_CW_CHANNELS
#define SIMD_CW_CHANNELS 32 /* a literal: it is part of the kernels' names */
#endif
#ifndef SIMD_DW_ROW_VECTORS
#define SIMD_DW_ROW_VECTORS 1
#endif
#ifndef SIMD_WHOLE_ROWS
#define SIMD_WHOLE_ROWS 1
#endif
#ifndef SIMD_PEAK_CHAINS
#define SIMD_PEAK_CHAINS 16
#endif
/* 4 vectors share each broadcast input (measured on AVX2 and AVX-512: 1.1-1.25x the GFLOP/s of 2
 * vectors with 4 sums); the literal is spelled out per lane count, as the kernel's name needs one. */
#define SIMD_FC_X4_2 8
#define SIMD_FC_X4_4 16
#define SIMD_FC_X4_8 32
#define SIMD_FC_X4_16 64
#ifndef SIMD_FC_CHANNELS
#define SIMD_FC_CHANNELS SIMD_CAT(SIMD_FC_X4, SIMD_LANES)
#endif
#ifndef SIMD_FC_SPLITS
#define SIMD_FC_SPLITS 2
#endif

#define SIMD_CAT_(a, b) a##_##b
#define SIMD_CAT(a, b) SIMD_CAT_(a, b)
#define SIMD_FN(name) SIMD_CAT(SIMD_ISA, name)
#define SIMD_STR_(x) #x
#define SIMD_STR(x) SIMD_STR_(x)
#define SIMD_INLINE static inline __attribute__((always_inline))
/* Unroll completely once the bounds are constants (after inlining). clang's "GCC unroll N" would unroll
 * a loop whose bound is still a parameter N times with a remainder, and compile for minutes. */
#if defined(SIMD_NO_UNROLL)
/* Sanitizer builds: clang with UBSan spends minutes and over 8 GB fully unrolling the AVX-512 tiles. */
#define SIMD_UNROLL
#elif defined(__clang__)
#define SIMD_UNROLL _Pragma("clang loop unroll(full)")
#else
#define SIMD_UNROLL _Pragma("GCC unroll 32")
#endif

enum { CONV_V = SIMD_CONV_CHANNELS / SIMD_LANES, FC_V = SIMD_FC_CHANNELS / SIMD_LANES, CW_V = 2, CW_WIDE = 8,
       MAX_SPLITS = 8 };
_Static_assert(SIMD_CONV_CHANNELS % SIMD_LANES == 0 && SIMD_CW_CHANNELS % (CW_V * SIMD_LANES) == 0 &&
               SIMD_FC_CHANNELS % SIMD_LANES == 0, "tile channels must be whole vectors");
_Static_assert(FC_V >= 1 && FC_V <= 4 && SIMD_FC_SPLITS >= 1 && SIMD_FC_SPLITS <= MAX_SPLITS,
               "the fully connected tile holds 1 to 4 vectors and 1 to 8 partial sums");
_Static_assert(CONV_V >= 1 && CONV_V <= 4, "the conv tile holds 1 to 4 vectors of channels");
_Static_assert(SIMD_CONV_PIXELS >= 1 && SIMD_CONV_PIXELS <= 16, "the conv tile holds 1 to 16 pixels");
_Static_assert(SIMD_DW_ROW_VECTORS >= 0 && SIMD_DW_ROW_VECTORS <= CW_V, "the row reuse takes 0 to 2 vectors");

#ifndef simd_max_const
#define simd_max_const(c, v) simd_max(c, v)
#define simd_min_const(c, v) simd_min(c, v)
#endif

SIMD_INLINE simd_v load_vec(const float *p, int partial, simd_tail tail) {
    return partial ? simd_load_tail(p, tail) : simd_load(p);
}

SIMD_INLINE void store_vec(float *p, simd_v v, int partial, simd_tail tail) {
    if (partial) simd_store_tail(p, v, tail);
    else simd_store(p, v);
}

/* The tile's activation, applied before every store. */
typedef struct {
    simd_v zero, six, alpha;
    small_activation act;
} epilogue;

SIMD_INLINE epilogue epilogue_of(const small_tile *t) {
    epilogue e = {simd_zero(), simd_dup(6.0f), simd_dup(t->alpha), t->activation};
    return e;
}

SIMD_INLINE simd_v activate(simd_v v, const epilogue *e) {
    switch (e->act) {
    case SMALL_ACT_RELU: return simd_max_const(e->zero, v);
    case SMALL_ACT_RELU6: return simd_min_const(e->six, simd_max_const(e->zero, v));
    case SMALL_ACT_LEAKY_RELU: return simd_neg_select(v, simd_mul(v, e->alpha));
    default: return v;
    }
}

/* ---- conv: P pixels x V vectors of output channels; per input channel one broadcast per pixel
 * times V weight vectors. Weights are packed [tap][depth][block width], so a step reads one row. */

SIMD_INLINE void conv_step(simd_v acc[SIMD_CONV_PIXELS][CONV_V], const float *const *xs, ptrdiff_t k,
                           const float *w, int P, int V, int partial, simd_tail tail) {
    simd_v wv[CONV_V];
    SIMD_UNROLL for (int v = 0; v < V; ++v) wv[v] = load_vec(w + v * SIMD_LANES, partial && v == V - 1, tail);
    SIMD_UNROLL for (int p = 0; p < P; ++p) {
        const simd_v xb = simd_dup(xs[p][k]);
        SIMD_UNROLL for (int v = 0; v < V; ++v) acc[p][v] = simd_fma(acc[p][v], xb, wv[v]);
    }
}

#ifdef SIMD_LANE_FMA
/* SIMD_LANES input channels at once: one vector load per pixel, then each channel's weight row
 * times one lane of it. The lane is a constant at each call, as fmla by element requires. */
SIMD_INLINE void conv_lane(simd_v acc[SIMD_CONV_PIXELS][CONV_V], const simd_v *xq, const float *w, int P, int V,
                           int partial, simd_tail tail, int lane) {
    simd_v wv[CONV_V];
    SIMD_UNROLL for (int v = 0; v < V; ++v) wv[v] = load_vec(w + v * SIMD_LANES, partial && v == V - 1, tail);
    SIMD_UNROLL for (int p = 0; p < P; ++p)
        SIMD_UNROLL for (int v = 0; v < V; ++v) acc[p][v] = simd_fma_lane(acc[p][v], wv[v], xq[p], lane);
}
#endif

/* U interleaved partial sums keep enough FMA chains in flight when P x V alone would not. */
SIMD_INLINE void conv_tile(const small_tile *t, int P, int V, int U, int partial) {
    const int nc = partial ? t->channels : V * SIMD_LANES; /* weight row width */
    const simd_tail tail = simd_tail_of(partial ? t->channels - (V - 1) * SIMD_LANES : 1);
    const float *xp[SIMD_CONV_PIXELS];
    SIMD_UNROLL for (int p = 0; p < P; ++p) xp[p] = t->x + p * t->x_pixel_step; /* P is the tile's pixels */
    simd_v acc[MAX_SPLITS][SIMD_CONV_PIXELS][CONV_V];
    SIMD_UNROLL for (int u = 0; u < U; ++u)
        SIMD_UNROLL for (int p = 0; p < P; ++p)
            SIMD_UNROLL for (int v = 0; v < V; ++v) acc[u][p][v] = simd_zero();
    for (int i = 0; i < t->taps_h; ++i)
        for (int j = 0; j < t->taps_w; ++j) {
            const float *w = t->w + i * t->w_row_step + j * t->w_col_step;
            const float *xs[SIMD_CONV_PIXELS];
            SIMD_UNROLL for (int p = 0; p < P; ++p) xs[p] = xp[p] + i * t->x_row_step + j * t->x_col_step;
            int k = 0;
#ifdef SIMD_LANE_FMA
            if (P > 1)
                for (; k + SIMD_LANES <= t->depth; k += SIMD_LANES, w += SIMD_LANES * nc) {
                    simd_v xq[SIMD_CONV_PIXELS];
                    SIMD_UNROLL for (int p = 0; p < P; ++p) xq[p] = simd_load(xs[p] + k);
                    conv_lane(acc[0], xq, w, P, V, partial, tail, 0);
                    conv_lane(acc[0], xq, w + nc, P, V, partial, tail, 1);
                    conv_lane(acc[0], xq, w + 2 * nc, P, V, partial, tail, 2);
                    conv_lane(acc[0], xq, w + 3 * nc, P, V, partial, tail, 3);
                }
#endif
            for (; k + U <= t->depth; k += U, w += U * nc)
                SIMD_UNROLL for (int u = 0; u < U; ++u) conv_step(acc[u], xs, k + u, w + u * nc, P, V, partial, tail);
            for (; k < t->depth; ++k, w += nc) conv_step(acc[0], xs, k, w, P, V, partial, tail);
        }
    const epilogue e = epilogue_of(t);
    SIMD_UNROLL for (int v = 0; v < V; ++v) {
        const int last = partial && v == V - 1;
        const simd_v bias = t->bias ? load_vec(t->bias + v * SIMD_LANES, last, tail) : simd_zero();
        SIMD_UNROLL for (int p = 0; p < P; ++p) {
            simd_v sum = acc[0][p][v];
            SIMD_UNROLL for (int u = 1; u < U; ++u) sum = simd_add(sum, acc[u][p][v]);
            store_vec(t->y + p * t->y_pixel_step + v * SIMD_LANES, activate(simd_add(sum, bias), &e), last, tail);
        }
    }
}

/* Compile-time variants, chosen per call: a partial last vector or not ... */
SIMD_INLINE void conv_partial(const small_tile *t, int P, int V, int U) {
    if (t->channels % SIMD_LANES) conv_tile(t, P, V, U, 1);
    else conv_tile(t, P, V, U, 0);
}

/* ... as many vectors as the tile's channels fill (a lone vector with CONV_V times the splits, to
 * keep the chains in flight); the branches for more vectors than CONV_V fold away ... */
SIMD_INLINE void conv_widths(const small_tile *t, int P, int U) {
    const int vectors = (t->channels + SIMD_LANES - 1) / SIMD_LANES;
    if (vectors >= CONV_V) conv_partial(t, P, CONV_V, U);
    else if (vectors == 3) conv_partial(t, P, CONV_V > 3 ? 3 : 1, U);
    else if (vectors == 2) conv_partial(t, P, CONV_V > 2 ? 2 : 1, U);
    else conv_partial(t, P, 1, CONV_V * U > MAX_SPLITS ? MAX_SPLITS : CONV_V * U);
}

/* ... and by pixel count: one body per count, so that a part tile (row ends, short rows) computes
 * exactly its pixels; a quarter tile or less takes 2 interleaved sums, and a lone pixel (the borders of
 * a padded row) SIMD_CONV_SPLITS, to keep FMA chains in flight. */
enum { CONV_QUARTER = SIMD_CONV_PIXELS / 4 };
SIMD_INLINE void conv_pixels(const small_tile *t, int n) {
    conv_widths(t, n, n == 1 ? SIMD_CONV_SPLITS : n <= CONV_QUARTER ? 2 : 1);
}

/* Counts from the tile's up fold away (n < P is a constant). */
#define CONV_PART(n)                                                                                              \
    case n:                                                                                                       \
        if (n < SIMD_CONV_PIXELS) conv_pixels(&t, n < SIMD_CONV_PIXELS ? n : 1);                                 \
        break;
#ifdef SIMD_PAIRS
/* conv of LANES / 2 output channels (MobileNet's first layer on AVX-512: 3 -> 8), whose half-empty
 * vectors would idle half of every FMA: a vector holds the block's channels for 2 consecutive input
 * channels instead (lane 2c + d: output c, input k + d), the input pair repeated across it, so each
 * FMA reduces 2 inputs. The two halves of a lane pair are added at the end, 2 pixels per vector. An odd
 * last input takes the even lanes alone. Needs the pixels' outputs back to back (y_pixel_step ==
 * channels). P pixels; a part tile computes its missing ones on the last real pixel's input. */
SIMD_INLINE void conv_pairs_tile(const small_tile *t, int P, const epilogue *e) {
    enum { C = SIMD_LANES / 2 };
    const float *xp[SIMD_CONV_PIXELS];
    SIMD_UNROLL for (int p = 0; p < P; ++p) xp[p] = t->x + (p < t->pixels ? p : t->pixels - 1) * t->x_pixel_step;
    simd_v acc[SIMD_CONV_PIXELS];
    SIMD_UNROLL for (int p = 0; p < P; ++p) acc[p] = simd_zero();
    for (int i = 0; i < t->taps_h; ++i)
        for (int j = 0; j < t->taps_w; ++j) {
            const float *w = t->w + i * t->w_row_step + j * t->w_col_step;
            const ptrdiff_t tap = i * t->x_row_step + j * t->x_col_step;
            int k = 0;
            for (; k + 2 <= t->depth; k += 2) {
                const simd_v wv = simd_load_zip_halves(w + k * C);
                SIMD_UNROLL for (int p = 0; p < P; ++p) acc[p] = simd_fma(acc[p], simd_load_pair_repeat(xp[p] + tap + k), wv);
            }
            if (k < t->depth) {
                const simd_v wv = simd_load_zip_zero(w + k * C);
                SIMD_UNROLL for (int p = 0; p < P; ++p) acc[p] = simd_fma(acc[p], simd_load_even_repeat(xp[p] + tap + k), wv);
            }
        }
    const simd_v bias = t->bias ? simd_load_repeat(t->bias, C) : simd_zero();
    SIMD_UNROLL for (int p = 0; p < P; p += 2) {
        if (p + 1 < P && p + 1 < t->pixels)
            simd_store(t->y + p * C, activate(simd_add(simd_add_pairs(acc[p], acc[p + 1]), bias), e));
        else if (p < t->pixels)
            simd_store_tail(t->y + p * C, activate(simd_add(simd_add_pairs(acc[p], acc[p]), bias), e), simd_tail_of(C));
    }
}

static __attribute__((noinline)) void conv_pairs(const small_tile *tile) {
    enum { P = SIMD_CONV_PIXELS, QUARTER = SIMD_CONV_PIXELS / 4 > 1 ? SIMD_CONV_PIXELS / 4 : 1 };
    small_tile t = *tile;
    const epilogue e = epilogue_of(&t);
    int left = t.pixels;
    for (t.pixels = P; left > P; left -= P) {
        conv_pairs_tile(&t, P, &e);
        small_tile_skip(&t, P);
    }
    t.pixels = left;
    if (left > QUARTER) conv_pairs_tile(&t, P, &e);
    else if (left > 1) conv_pairs_tile(&t, QUARTER, &e);
    else conv_pairs_tile(&t, 1, &e);
}
#endif

/* The first `tiles` whole tiles of a row longer than the tile (whole_rows). A function of its own, so
 * that a lone tile pays no frame for a row's loop (ARM and Cortex-M55 counts). */
static __attribute__((noinline)) void conv_whole_tiles(const small_tile *tile, int tiles) {
    small_tile t = *tile;
    t.pixels = SIMD_CONV_PIXELS;
    for (int i = 0; i < tiles; ++i) {
        conv_pixels(&t, SIMD_CONV_PIXELS);
        small_tile_skip(&t, SIMD_CONV_PIXELS);
    }
}

void SIMD_FN(conv)(const small_tile *tile) {
    small_tile t = *tile; /* a local: stores cannot alias it, so its fields stay in registers */
#ifdef SIMD_PAIRS
    if (t.channels == SIMD_LANES / 2 && t.y_pixel_step == t.channels) {
        conv_pairs(tile);
        return;
    }
#endif
    if (SIMD_WHOLE_ROWS && t.pixels > SIMD_CONV_PIXELS) { /* a row: its whole tiles, then the rest, 1 to P */
        const int tiles = (t.pixels - 1) / SIMD_CONV_PIXELS;
        conv_whole_tiles(tile, tiles);
        t.pixels -= tiles * SIMD_CONV_PIXELS;
        small_tile_skip(&t, tiles * SIMD_CONV_PIXELS);
    }
    if (t.pixels == SIMD_CONV_PIXELS) {
        conv_pixels(&t, SIMD_CONV_PIXELS);
        return;
    }
    switch (t.pixels) {
        CONV_PART(1) CONV_PART(2) CONV_PART(3) CONV_PART(4) CONV_PART(5) CONV_PART(6) CONV_PART(7) CONV_PART(8)
        CONV_PART(9) CONV_PART(10) CONV_PART(11) CONV_PART(12) CONV_PART(13) CONV_PART(14) CONV_PART(15)
    }
}
#undef CONV_PART

/* ---- fully connected: a matrix-vector product, one pixel. Each weight is used once per inference,
 * so the kernel is bound by streaming them: they are packed [depth][block width] and read front to
 * back; V vectors of outputs share each input's broadcast, and U interleaved partial sums over the
 * inputs keep V x U FMA chains in flight. The sums are added in one fixed order at the end. */
SIMD_INLINE void fc_tile(const small_tile *t, int V, int U, int partial) {
    const int nc = partial ? t->channels : V * SIMD_LANES; /* weight row width */
    const simd_tail tail = simd_tail_of(partial ? t->channels - (V - 1) * SIMD_LANES : 1);
    simd_v acc[MAX_SPLITS][FC_V];
    SIMD_UNROLL for (int u = 0; u < U; ++u)
        SIMD_UNROLL for (int v = 0; v < V; ++v) acc[u][v] = simd_zero();
    const float *x = t->x, *w = t->w;
    int k = 0;
    for (; k + U <= t->depth; k += U, w += U * nc)
        SIMD_UNROLL for (int u = 0; u < U; ++u) {
            const simd_v xb = simd_dup(x[k + u]);
            SIMD_UNROLL for (int v = 0; v < V; ++v)
                acc[u][v] = simd_fma(acc[u][v], xb, load_vec(w + u * nc + v * SIMD_LANES, partial && v == V - 1, tail));
        }
    for (; k < t->depth; ++k, w += nc) {
        const simd_v xb = simd_dup(x[k]);
        SIMD_UNROLL for (int v = 0; v < V; ++v)
            acc[0][v] = simd_fma(acc[0][v], xb, load_vec(w + v * SIMD_LANES, partial && v == V - 1, tail));
    }
    const epilogue e = epilogue_of(t);
    SIMD_UNROLL for (int v = 0; v < V; ++v) {
        const int last = partial && v == V - 1;
        simd_v sum = acc[0][v];
        SIMD_UNROLL for (int u = 1; u < U; ++u) sum = simd_add(sum, acc[u][v]);
        if (t->bias) sum = simd_add(sum, load_vec(t->bias + v * SIMD_LANES, last, tail));
        store_vec(t->y + v * SIMD_LANES, activate(sum, &e), last, tail);
    }
}

SIMD_INLINE void fc_partial(const small_tile *t, int V, int U) {
    if (t->channels % SIMD_LANES) fc_tile(t, V, U, 1);
    else fc_tile(t, V, U, 0);
}

/* A narrower block (the last one, or a layer of few outputs) takes more partial sums, to keep about
 * as many chains in flight; the branches for more vectors than FC_V fold away. */
#define FC_SPLITS_FOR(V) (FC_V * SIMD_FC_SPLITS / (V) > MAX_SPLITS ? MAX_SPLITS : FC_V * SIMD_FC_SPLITS / (V))
void SIMD_FN(fc)(const small_tile *tile) {
    const small_tile t = *tile; /* a local: stores cannot alias it, so its fields stay in registers */
    const int vectors = (t.channels + SIMD_LANES - 1) / SIMD_LANES;
    if (vectors >= FC_V) fc_partial(&t, FC_V, SIMD_FC_SPLITS);
    else if (vectors == 3) fc_partial(&t, FC_V > 3 ? 3 : 1, FC_SPLITS_FOR(3));
    else if (vectors == 2) fc_partial(&t, FC_V > 2 ? 2 : 1, FC_SPLITS_FOR(2));
    else fc_partial(&t, 1, FC_SPLITS_FOR(1));
}

/* ---- The channel-by-channel kinds (depthwise, max and average pooling, add, copy) share one walk:
 * up to SIMD_CW_CHANNELS channels of P pixels per call, in chunks of CW_V vectors held as P x CW_V
 * accumulators; a lone pixel takes CW_WIDE vectors a pass, for as many independent chains. */

typedef enum { OP_DWCONV, OP_MAX, OP_AVG, OP_ADD, OP_COPY } cw_op;

/* A tile of fewer pixels than P (clamp) computes the missing ones on the last real pixel's input and
 * does not store them: P pixels share each weight load, where a pixel at a time would load it again. */
SIMD_INLINE void cw_chunk(const small_tile *t, cw_op op, int P, int V, int c, int partial, int clamp,
                          const epilogue *e) {
    const simd_tail tail = simd_tail_of(partial ? t->channels - c - (V - 1) * SIMD_LANES : 1);
    ptrdiff_t px[SIMD_CW_PIXELS]; /* pixel p's input offset */
    SIMD_UNROLL for (int p = 0; p < P; ++p) px[p] = (clamp && p >= t->pixels ? t->pixels - 1 : p) * t->x_pixel_step;
    simd_v acc[SIMD_CW_PIXELS][CW_WIDE];
    SIMD_UNROLL for (int v = 0; v < V; ++v) {
        const int last = partial && v == V - 1;
        simd_v init = op == OP_MAX ? simd_dup(-INFINITY) : simd_zero();
        if (op == OP_DWCONV && t->bias) init = load_vec(t->bias + c + v * SIMD_LANES, last, tail);
        SIMD_UNROLL for (int p = 0; p < P; ++p) {
            const ptrdiff_t at = px[p] + c + v * SIMD_LANES;
            acc[p][v] = init;
            if (op == OP_COPY) acc[p][v] = load_vec(t->x + at, last, tail);
            if (op == OP_ADD) acc[p][v] = simd_add(load_vec(t->x + at, last, tail), load_vec(t->x2 + at, last, tail));
        }
    }
    const int taps_h = op == OP_ADD || op == OP_COPY ? 0 : t->taps_h; /* one tap, already loaded */
    for (int i = 0; i < taps_h; ++i)
        for (int j = 0; j < t->taps_w; ++j) {
            const float *x = t->x + i * t->x_row_step + j * t->x_col_step + c;
            const float *wt = op == OP_DWCONV ? t->w + i * t->w_row_step + j * t->w_col_step + c : 0;
            simd_v w[CW_WIDE]; /* shared by P > 1 pixels; a lone pixel loads each where it uses it */
            if (op == OP_DWCONV && P > 1)
                SIMD_UNROLL for (int v = 0; v < V; ++v) w[v] = load_vec(wt + v * SIMD_LANES, partial && v == V - 1, tail);
            /* A whole tile steps a pointer from pixel to pixel: 12 offsets held apart spill (AVX-512). */
            const float *xq = x;
            SIMD_UNROLL for (int p = 0; p < P; ++p, xq += t->x_pixel_step)
                SIMD_UNROLL for (int v = 0; v < V; ++v) {
                    const int last = partial && v == V - 1;
                    const simd_v xv = load_vec((clamp ? x + px[p] : xq) + v * SIMD_LANES, last, tail);
                    if (op == OP_DWCONV)
                        acc[p][v] = simd_fma(acc[p][v], xv, P > 1 ? w[v] : load_vec(wt + v * SIMD_LANES, last, tail));
                    if (op == OP_MAX) acc[p][v] = simd_max(acc[p][v], xv);
                    if (op == OP_AVG) acc[p][v] = simd_add(acc[p][v], xv);
                }
        }
    /* Multiplying by a rounded reciprocal is within the reference's bound, and cheaper than a divide. */
    const simd_v scale = simd_dup(op == OP_AVG ? 1.0f / (float)(t->taps_h * t->taps_w) : 1.0f);
    SIMD_UNROLL for (int p = 0; p < P; ++p)
        SIMD_UNROLL for (int v = 0; v < V; ++v) {
            const simd_v r = op == OP_AVG ? simd_mul(acc[p][v], scale) : acc[p][v];
            if (!clamp || p < t->pixels)
                store_vec(t->y + p * t->y_pixel_step + c + v * SIMD_LANES, activate(r, e), partial && v == V - 1, tail);
        }
}

/* Depthwise with a 3-wide window whose pixel p, tap j reads input column p + j (stride == dilation):
 * each of the NP + 2 input columns of a window row is loaded once and feeds the up to 3 pixels that
 * use it, instead of once per (pixel, tap). V vectors of channels at a time (SIMD_DW_ROW_VECTORS):
 * NP x V accumulators, 3 x V weights and the input fit the registers, and the chunks' chains overlap.
 * It reads exactly the tile's columns, so NP is the tile's pixels (dw_row: P, P / 2 or P / 4). */
SIMD_INLINE void dw_row_chunk(const small_tile *t, int NP, int c, int V, int partial, const epilogue *e) {
    enum { W = 3 };
    const simd_tail tail = simd_tail_of(partial ? t->channels - c - (V - 1) * SIMD_LANES : 1);
    simd_v acc[SIMD_CW_PIXELS][CW_V];
    SIMD_UNROLL for (int v = 0; v < V; ++v) {
        const int last = partial && v == V - 1;
        const simd_v init = t->bias ? load_vec(t->bias + c + v * SIMD_LANES, last, tail) : simd_zero();
        SIMD_UNROLL for (int p = 0; p < NP; ++p) acc[p][v] = init;
    }
    for (int i = 0; i < t->taps_h; ++i) {
        const float *x = t->x + i * t->x_row_step + c, *wt = t->w + i * t->w_row_step + c;
        simd_v w[W][CW_V];
        SIMD_UNROLL for (int j = 0; j < W; ++j)
            SIMD_UNROLL for (int v = 0; v < V; ++v)
                w[j][v] = load_vec(wt + j * t->w_col_step + v * SIMD_LANES, partial && v == V - 1, tail);
        SIMD_UNROLL for (int q = 0; q < NP + W - 1; ++q)
            SIMD_UNROLL for (int v = 0; v < V; ++v) {
                simd_v xv = load_vec(x + q * t->x_col_step + v * SIMD_LANES, partial && v == V - 1, tail);
                SIMD_KEEP_IN_REGISTER(xv);
                SIMD_UNROLL for (int j = 0; j < W; ++j)
                    if (q - j >= 0 && q - j < NP) acc[q - j][v] = simd_fma(acc[q - j][v], xv, w[j][v]);
            }
    }
    SIMD_UNROLL for (int p = 0; p < NP; ++p)
        SIMD_UNROLL for (int v = 0; v < V; ++v)
            store_vec(t->y + p * t->y_pixel_step + c + v * SIMD_LANES, activate(acc[p][v], e), partial && v == V - 1,
                      tail);
}

/* NP pixels of the row reuse, every channel. */
SIMD_INLINE void dw_row(const small_tile *t, int NP, const epilogue *e) {
    enum { V = SIMD_DW_ROW_VECTORS ? SIMD_DW_ROW_VECTORS : 1, CHUNK = V * SIMD_LANES };
    int c = 0;
    for (; c + CHUNK <= t->channels; c += CHUNK) dw_row_chunk(t, NP, c, V, 0, e);
    for (; c + SIMD_LANES <= t->channels; c += SIMD_LANES) dw_row_chunk(t, NP, c, 1, 0, e);
    if (c < t->channels) dw_row_chunk(t, NP, c, 1, 1, e);
}

#ifdef SIMD_LOAD_REPEAT
/* Depthwise of a layer of C channels, C = LANES / 2 or LANES / 4, stride and dilation 1: the tile's
 * pixels are one run of pixels * C floats in the input (at every tap) and in the output, so the kernel
 * works on the run as a whole, LANES / C pixels per vector, each tap's weights repeated across it.
 * Half the FMAs of a channel vector per pixel, and no idle lanes. */
SIMD_INLINE void dw_dense(const small_tile *t, int C, const epilogue *e) {
    enum { V = (SIMD_CW_PIXELS + 1) / 2 }; /* vectors of the largest tile, at C = LANES / 2 */
    const int floats = t->pixels * C, full = floats / SIMD_LANES, partial = floats % SIMD_LANES != 0;
    const simd_tail tail = simd_tail_of(partial ? floats % SIMD_LANES : 1);
    const simd_v init = t->bias ? simd_load_repeat(t->bias, C) : simd_zero();
    simd_v acc[V];
    SIMD_UNROLL for (int v = 0; v < V; ++v) acc[v] = init;
    for (int i = 0; i < t->taps_h; ++i)
        for (int j = 0; j < t->taps_w; ++j) {
            const float *x = t->x + i * t->x_row_step + j * t->x_col_step;
            const simd_v w = simd_load_repeat(t->w + i * t->w_row_step + j * t->w_col_step, C);
            SIMD_UNROLL for (int v = 0; v < V; ++v) {
                if (v < full) acc[v] = simd_fma(acc[v], simd_load(x + v * SIMD_LANES), w);
                else if (v == full && partial) acc[v] = simd_fma(acc[v], simd_load_tail(x + v * SIMD_LANES, tail), w);
            }
        }
    SIMD_UNROLL for (int v = 0; v < V; ++v) {
        if (v < full) simd_store(t->y + v * SIMD_LANES, activate(acc[v], e));
        else if (v == full && partial) simd_store_tail(t->y + v * SIMD_LANES, activate(acc[v], e), tail);
    }
}
#endif

/* Whole chunks, then the partial one: CW_V vectors, or fewer. A lone pixel takes CW_WIDE, then half
 * as many vectors a pass, for as many independent chains as its channels allow. */
SIMD_INLINE void cw_chunks(const small_tile *t, cw_op op, int P, int clamp, const epilogue *e) {
    int c = 0;
    if (P == 1) {
        for (; c + CW_WIDE * SIMD_LANES <= t->channels; c += CW_WIDE * SIMD_LANES) cw_chunk(t, op, 1, CW_WIDE, c, 0, 0, e);
        if (c + CW_WIDE / 2 * SIMD_LANES <= t->channels) {
            cw_chunk(t, op, 1, CW_WIDE / 2, c, 0, 0, e);
            c += CW_WIDE / 2 * SIMD_LANES;
        }
    }
    for (; c + CW_V * SIMD_LANES <= t->channels; c += CW_V * SIMD_LANES) cw_chunk(t, op, P, CW_V, c, 0, clamp, e);
    if (c + SIMD_LANES < t->channels) cw_chunk(t, op, P, CW_V, c, 1, clamp, e);
    else if (c + SIMD_LANES == t->channels) cw_chunk(t, op, P, 1, c, 0, clamp, e);
    else if (c < t->channels) cw_chunk(t, op, P, 1, c, 1, clamp, e);
}

/* One tile of up to SIMD_CW_PIXELS pixels. */
SIMD_INLINE void cw_tile(small_tile t, cw_op op) {
    const epilogue e = epilogue_of(&t);
#ifdef SIMD_LOAD_REPEAT
    if (op == OP_DWCONV && t.x_pixel_step == t.channels && t.x_col_step == t.channels && t.y_pixel_step == t.channels &&
        (t.channels == SIMD_LANES / 2 || t.channels == SIMD_LANES / 4)) {
        if (t.channels == SIMD_LANES / 2) dw_dense(&t, SIMD_LANES / 2, &e);
        else dw_dense(&t, SIMD_LANES / 4, &e);
        return;
    }
#endif
    if (SIMD_DW_ROW_VECTORS && op == OP_DWCONV && t.taps_w == 3 && t.x_pixel_step == t.x_col_step) {
        /* A whole tile; a part one (a row's end: MobileNet's 12-wide rows are all part tiles) of fewer
         * channels than a lone pixel's CW_WIDE vectors as a half and a quarter tile that fit, the rest
         * below (AVX-512, in-process A/B: 0.84-0.91x the time of 24x24x32, 12x12x64 and KWS's 25x5x64;
         * 1.03x at 6x6x128, whose lone pixels fill 8 chains). Each pixel sums its taps in the same order
         * on every path, so the split changes no result. */
        enum { HALF = SIMD_CW_PIXELS / 2, QUARTER = SIMD_CW_PIXELS / 4 };
        if (t.pixels == SIMD_CW_PIXELS) {
            dw_row(&t, SIMD_CW_PIXELS, &e);
            return;
        }
        if (t.channels < CW_WIDE * SIMD_LANES && HALF >= 2 && t.pixels >= HALF) {
            dw_row(&t, HALF, &e);
            t.pixels -= HALF;
            small_tile_skip(&t, HALF);
        }
        if (t.channels < CW_WIDE * SIMD_LANES && QUARTER >= 2 && t.pixels >= QUARTER) {
            dw_row(&t, QUARTER, &e);
            t.pixels -= QUARTER;
            small_tile_skip(&t, QUARTER);
        }
        if (t.pixels == 0) return;
    }
    if (t.pixels == SIMD_CW_PIXELS) {
        cw_chunks(&t, op, SIMD_CW_PIXELS, 0, &e);
        return;
    }
    /* Part tiles (short rows, row ends) of fewer channels than a lone pixel's CW_WIDE vectors: the
     * whole tile, a half or a quarter one, whichever holds it, as conv does (measured on the depthwise layers of DS-CNN and
     * MobileNet: 1.1-1.16x with 32 or 64 channels, 0.82x with 128, where a pixel alone fills 8 chains). */
    if (t.channels < CW_WIDE * SIMD_LANES && t.pixels > SIMD_CW_PIXELS / 2) {
        cw_chunks(&t, op, SIMD_CW_PIXELS, 1, &e);
        return;
    }
    if (t.channels < CW_WIDE * SIMD_LANES && t.pixels > SIMD_CW_PIXELS / 4 && SIMD_CW_PIXELS / 2 > 1) {
        cw_chunks(&t, op, SIMD_CW_PIXELS / 2, 1, &e);
        return;
    }
    if (t.channels < CW_WIDE * SIMD_LANES && t.pixels > 1 && SIMD_CW_PIXELS / 4 > 1) {
        cw_chunks(&t, op, SIMD_CW_PIXELS / 4, 1, &e);
        return;
    }
    const int pixels = t.pixels;
    for (int p = 0; p < pixels; ++p) {
        cw_chunks(&t, op, 1, 0, &e);
        small_tile_skip(&t, 1);
        t.x2 = t.x2 ? t.x2 + t.x_pixel_step : 0;
    }
}

/* A tile, or a row longer than the tile (whole_rows): its whole tiles, a constant pixel count each (the
 * part-tile paths fold away), then the rest. The tile is copied to a local first: the stores may alias
 * *tile (vector types alias anything), and a local keeps its fields in registers instead of reloading
 * them after every store. The loop stays in the entry: in a function of its own (as conv's), the call
 * cost the depthwise layers of MobileNet 3-4% (AVX-512). */
SIMD_INLINE void cw_row(const small_tile *tile, cw_op op) {
    small_tile t = *tile;
    for (; SIMD_WHOLE_ROWS && t.pixels > SIMD_CW_PIXELS; t.pixels -= SIMD_CW_PIXELS) {
        small_tile whole = t;
        whole.pixels = SIMD_CW_PIXELS;
        cw_tile(whole, op); /* field by field: through small_tile_skip, ASIMD's ADD stored 2-5% more */
        t.x += SIMD_CW_PIXELS * t.x_pixel_step;
        t.x2 = t.x2 ? t.x2 + SIMD_CW_PIXELS * t.x_pixel_step : 0;
        t.y += SIMD_CW_PIXELS * t.y_pixel_step;
    }
    cw_tile(t, op);
}

void SIMD_FN(dwconv)(const small_tile *t) { cw_row(t, OP_DWCONV); }
void SIMD_FN(maxpool)(const small_tile *t) { cw_row(t, OP_MAX); }
void SIMD_FN(avgpool)(const small_tile *t) { cw_row(t, OP_AVG); }
void SIMD_FN(add)(const small_tile *t) { cw_row(t, OP_ADD); }
void SIMD_FN(copy)(const small_tile *t) { cw_row(t, OP_COPY); }

/* ---- Winograd F(2x2, 3x3) transforms (small_kernel.h), for ISAs that define SIMD_WINOGRAD: channel
 * vectors of one tile at a time, its 16 points in registers. */
#ifdef SIMD_WINOGRAD
#ifndef simd_sub
#define simd_sub(a, b) simd_fma(a, b, simd_dup(-1.0f)) /* exact: the product by -1 is */
#endif

/* B^T d B along one axis: (d0 - d2, d1 + d2, d2 - d1, d1 - d3). */
SIMD_INLINE void winograd_in4(simd_v *a, simd_v *b, simd_v *c, simd_v *d) {
    const simd_v t0 = simd_sub(*a, *c), t1 = simd_add(*b, *c), t2 = simd_sub(*c, *b), t3 = simd_sub(*b, *d);
    *a = t0, *b = t1, *c = t2, *d = t3;
}

/* B^T down input column `col` of the tiles (rows row_lo..row_hi of the 4, zeros elsewhere; all 4 when
 * `full`, a constant), channel vector c. */
SIMD_INLINE void winograd_column(const small_winograd_input *a, int full, int col, int c, int partial,
                                 simd_tail tail, simd_v d[4]) {
    const int inside = col >= 0 && col < a->width;
    const float *x = a->x + (inside ? col * a->x_col_step : 0) + c;
    SIMD_UNROLL for (int i = 0; i < 4; ++i)
        d[i] = inside && (full || (i >= a->row_lo && i < a->row_hi))
                   ? load_vec(x + (full ? i : i - a->row_lo) * a->x_row_step, partial, tail)
                   : simd_zero();
    winograd_in4(&d[0], &d[1], &d[2], &d[3]);
}

/* Channel vector by channel vector along the row of tiles: neighbouring tiles share two input columns,
 * whose B^T is kept from one tile to the next (8 loads and 24 additions a tile instead of 16 and 32). */
SIMD_INLINE void winograd_input_vector(const small_winograd_input *a, int full, int c, int partial, simd_tail tail) {
    simd_v col[4][4]; /* col[j][i]: B^T down the tile's column j */
    winograd_column(a, full, a->col_first, c, partial, tail, col[0]);
    winograd_column(a, full, a->col_first + 1, c, partial, tail, col[1]);
    float *v = a->v + c;
    for (int t = 0; t < a->tiles; ++t, v += a->v_tile_step) {
        winograd_column(a, full, a->col_first + 2 * t + 2, c, partial, tail, col[2]);
        winograd_column(a, full, a->col_first + 2 * t + 3, c, partial, tail, col[3]);
        float *point = v; /* point p of the tile at v + p * v_point_step */
        SIMD_UNROLL for (int i = 0; i < 4; ++i) {
            simd_v r[4] = {col[0][i], col[1][i], col[2][i], col[3][i]};
            winograd_in4(&r[0], &r[1], &r[2], &r[3]);
            SIMD_UNROLL for (int j = 0; j < 4; ++j, point += a->v_point_step) store_vec(point, r[j], partial, tail);
        }
        SIMD_UNROLL for (int i = 0; i < 4; ++i) col[0][i] = col[2][i], col[1][i] = col[3][i];
    }
}

/* Whole vectors, then the tail: `partial` a constant in each body. */
SIMD_INLINE void winograd_input_rows(const small_winograd_input *a, int full) {
    int c = 0;
    for (; c + SIMD_LANES <= a->channels; c += SIMD_LANES) winograd_input_vector(a, full, c, 0, simd_tail_of(1));
    if (c < a->channels) winograd_input_vector(a, full, c, 1, simd_tail_of(a->channels - c));
}

/* By value: a copy of its own, which no store through v can alias (a pointer's fields would be reloaded
 * after each store), and which the caller's stores fill field by field (copying *args to a local reads
 * them with one 64-byte load, which waits for those stores to retire: a quarter of the transform's time). */
static void SIMD_FN(winograd_input)(small_winograd_input a) {
    if (a.row_lo == 0 && a.row_hi == 4)
        winograd_input_rows(&a, 1);
    else
        winograd_input_rows(&a, 0);
}

/* One channel vector of the tiles; *finite stays 0 while every result is (x * 0 is NaN for Inf and NaN). */
SIMD_INLINE void winograd_output_vector(const small_winograd_output *a, const epilogue *e, int c, int partial,
                                        simd_tail tail, simd_v *finite) {
    const simd_v zero = simd_zero();
    const simd_v b = a->bias ? load_vec(a->bias + c, partial, tail) : simd_zero();
    const float *m = a->m + c;
    float *y = a->y + c;
    for (int t = 0; t < a->tiles; ++t, m += a->m_tile_step, y += 2 * a->y_col_step) {
        simd_v p[16]; /* the tile's 16 points */
        const float *point = m;
        SIMD_UNROLL for (int k = 0; k < 16; ++k, point += a->m_point_step) p[k] = load_vec(point, partial, tail);
        simd_v s[2][4]; /* A^T M: (m0 + m1 + m2, m1 - m2 - m3) down each column */
        SIMD_UNROLL for (int j = 0; j < 4; ++j) {
            s[0][j] = simd_add(simd_add(p[j], p[4 + j]), p[8 + j]);
            s[1][j] = simd_sub(simd_sub(p[4 + j], p[8 + j]), p[12 + j]);
        }
        const int cols = a->cols - 2 * t < 2 ? 1 : 2;
        for (int r = 0; r < a->rows; ++r) {
            const simd_v y0 = simd_add(b, simd_add(simd_add(s[r][0], s[r][1]), s[r][2]));
            const simd_v y1 = simd_add(b, simd_sub(simd_sub(s[r][1], s[r][2]), s[r][3]));
            *finite = simd_fma(*finite, y0, zero);
            store_vec(y + r * a->y_row_step, activate(y0, e), partial, tail);
            if (cols == 2) {
                *finite = simd_fma(*finite, y1, zero);
                store_vec(y + r * a->y_row_step + a->y_col_step, activate(y1, e), partial, tail);
            }
        }
    }
}

static int SIMD_FN(winograd_output)(small_winograd_output local) { /* by value: see winograd_input */
    const small_tile act = {.activation = local.activation, .alpha = local.alpha};
    const epilogue e = epilogue_of(&act);
    simd_v finite = simd_zero();
    int c = 0;
    for (; c + SIMD_LANES <= local.channels; c += SIMD_LANES) winograd_output_vector(&local, &e, c, 0, simd_tail_of(1), &finite);
    if (c < local.channels) winograd_output_vector(&local, &e, c, 1, simd_tail_of(local.channels - c), &finite);
    float lanes[SIMD_LANES];
    simd_store(lanes, finite);
    for (int l = 0; l < SIMD_LANES; ++l)
        if (lanes[l] != 0.0f) return 1;
    return 0;
}
/* The conv kernel's fields for its transforms (the table below). */
#define SIMD_WINOGRAD_FIELDS                                                                                     \
    .winograd_input = SIMD_FN(winograd_input), .winograd_output = SIMD_FN(winograd_output),                      \
    .winograd_name = SIMD_NAME(winograd, SIMD_CONV_PIXELS, SIMD_CONV_CHANNELS),
#else
#define SIMD_WINOGRAD_FIELDS
#endif

/* ---- The FMA-peak probe (`small_peak`, the yardstick of `invoke bench`): independent chains, so
 * that throughput, not latency, bounds the loop. Returns the floating-point operations done. */
static double SIMD_FN(peak)(long iterations, float *sink) {
    simd_v acc[SIMD_PEAK_CHAINS];
    const simd_v scale = simd_dup(0.999999f), step = simd_dup(1e-7f);
    SIMD_UNROLL for (int c = 0; c < SIMD_PEAK_CHAINS; ++c) acc[c] = simd_dup(*sink + (float)c);
    for (long i = 0; i < iterations; ++i)
        SIMD_UNROLL for (int c = 0; c < SIMD_PEAK_CHAINS; ++c) acc[c] = simd_fma(step, acc[c], scale);
    float lanes[SIMD_LANES];
    SIMD_UNROLL for (int c = 1; c < SIMD_PEAK_CHAINS; ++c) acc[0] = simd_add(acc[0], acc[c]);
    simd_store(lanes, acc[0]);
    for (int l = 0; l < SIMD_LANES; ++l) *sink += lanes[l];
    return 2.0 * SIMD_LANES * SIMD_PEAK_CHAINS * (double)iterations;
}

#define SIMD_NAME(kind, pixels, channels) "f32-" #kind "-" SIMD_STR(pixels) "x" SIMD_STR(channels) "-" SIMD_STR(SIMD_ISA)
#define SIMD_CW_KERNEL(kind)                                                                                      \
    {.name = SIMD_NAME(kind, SIMD_CW_PIXELS, SIMD_CW_CHANNELS), .run = SIMD_FN(kind), .pixel_tile = SIMD_CW_PIXELS, \
     .channel_tile = SIMD_CW_CHANNELS, .whole_rows = SIMD_WHOLE_ROWS}

static const small_kernel_info SIMD_FN(kernels)[SMALL_KERNEL_COUNT_] = {
    [SMALL_KERNEL_CONV] = {.name = SIMD_NAME(conv, SIMD_CONV_PIXELS, SIMD_CONV_CHANNELS), .run = SIMD_FN(conv),
                           .pixel_tile = SIMD_CONV_PIXELS, .channel_tile = SIMD_CONV_CHANNELS,
                           .whole_rows = SIMD_WHOLE_ROWS, SIMD_WINOGRAD_FIELDS},
    [SMALL_KERNEL_DWCONV] = SIMD_CW_KERNEL(dwconv),
    [SMALL_KERNEL_MAXPOOL] = SIMD_CW_KERNEL(maxpool),
    [SMALL_KERNEL_AVGPOOL] = SIMD_CW_KERNEL(avgpool),
    [SMALL_KERNEL_ADD] = SIMD_CW_KERNEL(add),
    [SMALL_KERNEL_COPY] = SIMD_CW_KERNEL(copy),
    [SMALL_KERNEL_FC] = {.name = SIMD_NAME(fc, 1, SIMD_FC_CHANNELS), .run = SIMD_FN(fc), .pixel_tile = 1,
                         .channel_tile = SIMD_FC_CHANNELS},
};

/* Softmax stays portable: it is bound by exp and runs once per model (its entry is empty). */
const small_kernel_table SIMD_CAT(small_table, SIMD_ISA) = {
    .isa = SIMD_STR(SIMD_ISA),
    .supported = simd_supported,
    .kernels = {[SMALL_KERNEL_CONV] = &SIMD_FN(kernels)[SMALL_KERNEL_CONV],
                [SMALL_KERNEL_DWCONV] = &SIMD_FN(kernels)[SMALL_KERNEL_DWCONV],
                [SMALL_KERNEL_MAXPOOL] = &SIMD_FN(kernels)[SMALL_KERNEL_MAXPOOL],
                [SMALL_KERNEL_AVGPOOL] = &SIMD_FN(kernels)[SMALL_KERNEL_AVGPOOL],
                [SMALL_KERNEL_ADD] = &SIMD_FN(kernels)[SMALL_KERNEL_ADD],
                [SMALL_KERNEL_COPY] = &SIMD_FN(kernels)[SMALL_KERNEL_COPY],
                [SMALL_KERNEL_FC] = &SIMD_FN(kernels)[SMALL_KERNEL_FC]},
    .peak = SIMD_FN(peak),
};
