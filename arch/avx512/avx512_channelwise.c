/* The channel-by-channel kinds (depthwise conv, max and average pooling, add, copy) share one tile
 * walk: up to 128 channels of up to 6 pixels per call, in chunks of 32 channels (two vectors) held
 * as 6 x 2 accumulators; the last chunk of a tile may be partial and uses masked loads and stores.
 * A tile of fewer than 6 pixels (row borders, row ends) goes one pixel at a time. */
#include "avx512_common.h"

enum { CW_PIXELS = 6, CW_VECTORS = 2, CW_CHUNK = CW_VECTORS * AVX512_LANES, CW_WIDE = 8 };

typedef enum { OP_DWCONV, OP_MAX, OP_AVG, OP_ADD, OP_COPY } cw_op;

/* Channels [c, c + V vectors) of P pixels (1 or 6; P x V <= 12). op, P, V and masked are constants at
 * each call. */
AVX512_INLINE void cw_chunk(const small_tile *t, cw_op op, int P, int V, int c, int masked,
                            const avx512_epilogue *e) {
    __mmask16 mask[CW_WIDE]; /* lanes of each vector that are channels of the tile */
    AVX512_UNROLL for (int v = 0; v < V; ++v) mask[v] = avx512_lanes(t->channels - c - v * AVX512_LANES);
    __m512 acc[CW_PIXELS][CW_WIDE];
    AVX512_UNROLL for (int v = 0; v < V; ++v) {
        __m512 init = op == OP_MAX ? _mm512_set1_ps(-INFINITY) : _mm512_setzero_ps();
        if (op == OP_DWCONV && t->bias) init = avx512_load(t->bias + c + v * AVX512_LANES, masked, mask[v]);
        AVX512_UNROLL for (int p = 0; p < P; ++p) {
            const ptrdiff_t at = p * t->x_pixel_step + c + v * AVX512_LANES;
            acc[p][v] = init;
            if (op == OP_COPY) acc[p][v] = avx512_load(t->x + at, masked, mask[v]);
            if (op == OP_ADD)
                acc[p][v] = _mm512_add_ps(avx512_load(t->x + at, masked, mask[v]),
                                          avx512_load(t->x2 + at, masked, mask[v]));
        }
    }
    const int taps_h = op == OP_ADD || op == OP_COPY ? 0 : t->taps_h; /* one tap, already loaded */
    for (int i = 0; i < taps_h; ++i)
        for (int j = 0; j < t->taps_w; ++j) {
            const float *x = t->x + i * t->x_row_step + j * t->x_col_step + c;
            const float *wt = t->w + i * t->w_row_step + j * t->w_col_step + c;
            __m512 w[CW_WIDE]; /* shared by P > 1 pixels; a single pixel loads each where it uses it */
            if (op == OP_DWCONV && P > 1)
                AVX512_UNROLL for (int v = 0; v < V; ++v) w[v] = avx512_load(wt + v * AVX512_LANES, masked, mask[v]);
            AVX512_UNROLL for (int p = 0; p < P; ++p)
                AVX512_UNROLL for (int v = 0; v < V; ++v) {
                    const __m512 xv = avx512_load(x + p * t->x_pixel_step + v * AVX512_LANES, masked, mask[v]);
                    if (op == OP_DWCONV)
                        acc[p][v] = _mm512_fmadd_ps(
                            xv, P > 1 ? w[v] : avx512_load(wt + v * AVX512_LANES, masked, mask[v]), acc[p][v]);
                    if (op == OP_MAX) acc[p][v] = _mm512_max_ps(acc[p][v], xv);
                    if (op == OP_AVG) acc[p][v] = _mm512_add_ps(acc[p][v], xv);
                }
        }
    /* Multiplying by a rounded reciprocal is within the reference's bound, and cheaper than a divide. */
    const __m512 scale = _mm512_set1_ps(op == OP_AVG ? 1.0f / (float)(t->taps_h * t->taps_w) : 1.0f);
    AVX512_UNROLL for (int p = 0; p < P; ++p)
        AVX512_UNROLL for (int v = 0; v < V; ++v) {
            const __m512 r = op == OP_AVG ? _mm512_mul_ps(acc[p][v], scale) : acc[p][v];
            avx512_store(t->y + p * t->y_pixel_step + c + v * AVX512_LANES, avx512_activate(r, e), masked, mask[v]);
        }
}

/* Whole 32-channel chunks, then the partial one: two vectors, or one. */
AVX512_INLINE void cw_chunks(const small_tile *t, cw_op op, int P, const avx512_epilogue *e) {
    int c = 0;
    if (P == 1) /* one pixel: 8 vectors a pass spread the loop over the taps over 8 FMAs, not 2 */
        for (; c + CW_WIDE * AVX512_LANES <= t->channels; c += CW_WIDE * AVX512_LANES) cw_chunk(t, op, 1, CW_WIDE, c, 0, e);
    for (; c + CW_CHUNK <= t->channels; c += CW_CHUNK) cw_chunk(t, op, P, CW_VECTORS, c, 0, e);
    if (c + AVX512_LANES < t->channels) cw_chunk(t, op, P, CW_VECTORS, c, 1, e);
    else if (c < t->channels) cw_chunk(t, op, P, 1, c, 1, e); /* no FMAs on an empty vector */
}

/* The tile is copied to a local first: the stores may alias *tile (vector types alias anything),
 * and a local keeps its fields in registers instead of reloading them after every store. */
AVX512_INLINE void cw_tile(const small_tile *tile, cw_op op) {
    small_tile t = *tile;
    const avx512_epilogue e = avx512_epilogue_of(&t);
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

void avx512_dwconv_6x128(const small_tile *t) { cw_tile(t, OP_DWCONV); }
void avx512_maxpool_6x128(const small_tile *t) { cw_tile(t, OP_MAX); }
void avx512_avgpool_6x128(const small_tile *t) { cw_tile(t, OP_AVG); }
void avx512_add_6x128(const small_tile *t) { cw_tile(t, OP_ADD); }
void avx512_copy_6x128(const small_tile *t) { cw_tile(t, OP_COPY); }
