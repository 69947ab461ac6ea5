/* The channel-by-channel kinds (depthwise conv, max and average pooling, add, copy) share one tile
 * walk: up to 64 channels of up to 6 pixels per call, in chunks of 16 channels (two vectors) held
 * as 6 x 2 accumulators; the last chunk of a tile may be partial and uses masked loads and stores.
 * A tile of fewer than 6 pixels (row borders, row ends) goes one pixel at a time. Depthwise tiles of
 * 6 pixels whose 3-wide window rows overlap (stride == dilation) take dw_row_chunk instead. */
#include "avx2_common.h"

enum { CW_PIXELS = 6, CW_VECTORS = 2, CW_CHUNK = CW_VECTORS * AVX2_LANES, CW_WIDE = 8 };

typedef enum { OP_DWCONV, OP_MAX, OP_AVG, OP_ADD, OP_COPY } cw_op;

/* Channels [c, c + V vectors) of P pixels (1 or 6; P x V <= 12). op, P, V and masked are constants at
 * each call. */
AVX2_INLINE void cw_chunk(const small_tile *t, cw_op op, int P, int V, int c, int masked, const avx2_epilogue *e) {
    __m256i mask[CW_WIDE]; /* lanes of each vector that are channels of the tile */
    AVX2_UNROLL for (int v = 0; v < V; ++v) mask[v] = avx2_lanes(t->channels - c - v * AVX2_LANES);
    __m256 acc[CW_PIXELS][CW_WIDE];
    AVX2_UNROLL for (int v = 0; v < V; ++v) {
        __m256 init = op == OP_MAX ? _mm256_set1_ps(-INFINITY) : _mm256_setzero_ps();
        if (op == OP_DWCONV && t->bias) init = avx2_load(t->bias + c + v * AVX2_LANES, masked, mask[v]);
        AVX2_UNROLL for (int p = 0; p < P; ++p) {
            const ptrdiff_t at = p * t->x_pixel_step + c + v * AVX2_LANES;
            acc[p][v] = init;
            if (op == OP_COPY) acc[p][v] = avx2_load(t->x + at, masked, mask[v]);
            if (op == OP_ADD)
                acc[p][v] = _mm256_add_ps(avx2_load(t->x + at, masked, mask[v]),
                                          avx2_load(t->x2 + at, masked, mask[v]));
        }
    }
    const int taps_h = op == OP_ADD || op == OP_COPY ? 0 : t->taps_h; /* one tap, already loaded */
    for (int i = 0; i < taps_h; ++i)
        for (int j = 0; j < t->taps_w; ++j) {
            const float *x = t->x + i * t->x_row_step + j * t->x_col_step + c;
            const float *wt = t->w + i * t->w_row_step + j * t->w_col_step + c;
            __m256 w[CW_WIDE]; /* shared by P > 1 pixels; a single pixel loads each where it uses it */
            if (op == OP_DWCONV && P > 1)
                AVX2_UNROLL for (int v = 0; v < V; ++v) w[v] = avx2_load(wt + v * AVX2_LANES, masked, mask[v]);
            AVX2_UNROLL for (int p = 0; p < P; ++p)
                AVX2_UNROLL for (int v = 0; v < V; ++v) {
                    const __m256 xv = avx2_load(x + p * t->x_pixel_step + v * AVX2_LANES, masked, mask[v]);
                    if (op == OP_DWCONV)
                        acc[p][v] = _mm256_fmadd_ps(
                            xv, P > 1 ? w[v] : avx2_load(wt + v * AVX2_LANES, masked, mask[v]), acc[p][v]);
                    if (op == OP_MAX) acc[p][v] = _mm256_max_ps(acc[p][v], xv);
                    if (op == OP_AVG) acc[p][v] = _mm256_add_ps(acc[p][v], xv);
                }
        }
    /* Multiplying by a rounded reciprocal is within the reference's bound, and cheaper than a divide. */
    const __m256 scale = _mm256_set1_ps(op == OP_AVG ? 1.0f / (float)(t->taps_h * t->taps_w) : 1.0f);
    AVX2_UNROLL for (int p = 0; p < P; ++p)
        AVX2_UNROLL for (int v = 0; v < V; ++v) {
            const __m256 r = op == OP_AVG ? _mm256_mul_ps(acc[p][v], scale) : acc[p][v];
            avx2_store(t->y + p * t->y_pixel_step + c + v * AVX2_LANES, avx2_activate(r, e), masked, mask[v]);
        }
}

/* Depthwise with a 3-wide window whose pixel p, tap j reads input column p + j (x_pixel_step ==
 * x_col_step: stride 1 and dilation 1, or stride == dilation): each of the 8 input columns of a
 * window row is loaded once and feeds the up to 3 pixels that use it, instead of once per (pixel,
 * tap). One vector of channels at a time, so that 6 accumulators, 3 weights and the input fit the
 * 16 registers and the FMAs take register operands only; the chunks' independent chains overlap. */
AVX2_INLINE void dw_row_chunk(const small_tile *t, int c, int masked, const avx2_epilogue *e) {
    enum { W = 3 };
    const __m256i mask = avx2_lanes(t->channels - c);
    const __m256 init = t->bias ? avx2_load(t->bias + c, masked, mask) : _mm256_setzero_ps();
    __m256 acc[CW_PIXELS];
    AVX2_UNROLL for (int p = 0; p < CW_PIXELS; ++p) acc[p] = init;
    for (int i = 0; i < t->taps_h; ++i) {
        const float *x = t->x + i * t->x_row_step + c, *wt = t->w + i * t->w_row_step + c;
        __m256 w[W];
        AVX2_UNROLL for (int j = 0; j < W; ++j) w[j] = avx2_load(wt + j * t->w_col_step, masked, mask);
        AVX2_UNROLL for (int q = 0; q < CW_PIXELS + W - 1; ++q) {
            const __m256 xv = avx2_load(x + q * t->x_col_step, masked, mask);
            AVX2_UNROLL for (int j = 0; j < W; ++j)
                if (q - j >= 0 && q - j < CW_PIXELS) acc[q - j] = _mm256_fmadd_ps(xv, w[j], acc[q - j]);
        }
    }
    AVX2_UNROLL for (int p = 0; p < CW_PIXELS; ++p)
        avx2_store(t->y + p * t->y_pixel_step + c, avx2_activate(acc[p], e), masked, mask);
}

/* Whole 16-channel chunks, then the partial one: two vectors, or one. */
AVX2_INLINE void cw_chunks(const small_tile *t, cw_op op, int P, const avx2_epilogue *e) {
    int c = 0;
    if (P == 1) /* one pixel: 8 vectors a pass spread the loop over the taps over 8 FMAs, not 2 */
        for (; c + CW_WIDE * AVX2_LANES <= t->channels; c += CW_WIDE * AVX2_LANES) cw_chunk(t, op, 1, CW_WIDE, c, 0, e);
    for (; c + CW_CHUNK <= t->channels; c += CW_CHUNK) cw_chunk(t, op, P, CW_VECTORS, c, 0, e);
    if (c + AVX2_LANES < t->channels) cw_chunk(t, op, P, CW_VECTORS, c, 1, e);
    else if (c < t->channels) cw_chunk(t, op, P, 1, c, 1, e); /* no FMAs on an empty vector */
}

/* The tile is copied to a local first: the stores may alias *tile (vector types alias anything),
 * and a local keeps its fields in registers instead of reloading them after every store. */
AVX2_INLINE void cw_tile(const small_tile *tile, cw_op op) {
    small_tile t = *tile;
    const avx2_epilogue e = avx2_epilogue_of(&t);
    if (op == OP_DWCONV && t.pixels == CW_PIXELS && t.taps_w == 3 && t.x_pixel_step == t.x_col_step) {
        int c = 0;
        for (; c + AVX2_LANES <= t.channels; c += AVX2_LANES) dw_row_chunk(&t, c, 0, &e);
        if (c < t.channels) dw_row_chunk(&t, c, 1, &e);
        return;
    }
    if (t.pixels == CW_PIXELS) {
        cw_chunks(&t, op, CW_PIXELS, &e);
        return;
    }
    const int pixels = t.pixels;
    for (int p = 0; p < pixels; ++p) {
        cw_chunks(&t, op, 1, &e);
        t.x += t.x_pixel_step;
        t.x2 = t.x2 ? t.x2 + t.x_pixel_step : 0;
        t.y += t.y_pixel_step;
    }
}

void avx2_dwconv_6x64(const small_tile *t) { cw_tile(t, OP_DWCONV); }
void avx2_maxpool_6x64(const small_tile *t) { cw_tile(t, OP_MAX); }
void avx2_avgpool_6x64(const small_tile *t) { cw_tile(t, OP_AVG); }
void avx2_add_6x64(const small_tile *t) { cw_tile(t, OP_ADD); }
void avx2_copy_6x64(const small_tile *t) { cw_tile(t, OP_COPY); }
