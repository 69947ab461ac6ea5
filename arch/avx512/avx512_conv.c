/* Convolution tile of up to 12 pixels x 32 channels: per reduction step, one broadcast input value
 * per pixel times two weight vectors into 24 zmm accumulators (of 32 registers). 12 pixels rather
 * than 6 halve the weight bytes per FMA: a 3x3x64 block of 32 channels is 72 KiB of weights, more
 * than L1, and they stream from L2 for every tile. Weights are packed [tap][depth][block width], so
 * a step reads one weight row. */
#include "avx512_common.h"

enum { CONV_PIXELS = 12, CONV_VECTORS = 2, MAX_SPLITS = 8 };

/* One reduction step k of every pixel: xs[p] points at pixel p's input at this tap. */
AVX512_INLINE void conv_step(__m512 acc[CONV_PIXELS][CONV_VECTORS], const float *const *xs, ptrdiff_t k,
                             const float *w, int P, int V, int masked, __mmask16 mask) {
    __m512 wv[CONV_VECTORS];
    AVX512_UNROLL for (int v = 0; v < V; ++v) wv[v] = avx512_load(w + v * AVX512_LANES, masked && v == V - 1, mask);
    AVX512_UNROLL for (int p = 0; p < P; ++p) {
        const __m512 xb = _mm512_set1_ps(xs[p][k]);
        AVX512_UNROLL for (int v = 0; v < V; ++v) acc[p][v] = _mm512_fmadd_ps(xb, wv[v], acc[p][v]);
    }
}

/* P pixels (1, 6 or 12) by V vectors; the reduction is split into U interleaved partial sums so that
 * every instance keeps 8 to 24 independent FMA chains in flight (FMA latency 4, 2 per cycle).
 * masked: the last vector is partial (channels not a multiple of 16). All of P, V, U, masked are
 * constants at each call, so the loops over them unroll and `acc` stays in registers.
 * Pixels beyond t->pixels repeat the last real pixel's input (valid memory) and are not stored. */
AVX512_INLINE void conv_tile(const small_tile *t, int P, int V, int U, int masked) {
    const int nc = masked ? t->channels : V * AVX512_LANES; /* weight row width */
    const __mmask16 mask = avx512_lanes(t->channels - (V - 1) * AVX512_LANES);
    const float *xp[CONV_PIXELS];
    AVX512_UNROLL for (int p = 0; p < P; ++p)
        xp[p] = t->x + (p < t->pixels ? p : t->pixels - 1) * t->x_pixel_step;
    __m512 acc[MAX_SPLITS][CONV_PIXELS][CONV_VECTORS];
    AVX512_UNROLL for (int u = 0; u < U; ++u)
        AVX512_UNROLL for (int p = 0; p < P; ++p)
            AVX512_UNROLL for (int v = 0; v < V; ++v) acc[u][p][v] = _mm512_setzero_ps();
    for (int i = 0; i < t->taps_h; ++i)
        for (int j = 0; j < t->taps_w; ++j) {
            const float *w = t->w + i * t->w_row_step + j * t->w_col_step;
            const float *xs[CONV_PIXELS];
            AVX512_UNROLL for (int p = 0; p < P; ++p) xs[p] = xp[p] + i * t->x_row_step + j * t->x_col_step;
            int k = 0;
            for (; k + U <= t->depth; k += U, w += U * nc)
                AVX512_UNROLL for (int u = 0; u < U; ++u) conv_step(acc[u], xs, k + u, w + u * nc, P, V, masked, mask);
            for (; k < t->depth; ++k, w += nc) conv_step(acc[0], xs, k, w, P, V, masked, mask);
        }
    const avx512_epilogue e = avx512_epilogue_of(t);
    AVX512_UNROLL for (int v = 0; v < V; ++v) {
        const int last = masked && v == V - 1;
        const __m512 bias = t->bias ? avx512_load(t->bias + v * AVX512_LANES, last, mask) : _mm512_setzero_ps();
        AVX512_UNROLL for (int p = 0; p < P; ++p) {
            __m512 sum = acc[0][p][v];
            AVX512_UNROLL for (int u = 1; u < U; ++u) sum = _mm512_add_ps(sum, acc[u][p][v]);
            if (p < t->pixels)
                avx512_store(t->y + p * t->y_pixel_step + v * AVX512_LANES,
                             avx512_activate(_mm512_add_ps(sum, bias), &e), last, mask);
        }
    }
}

/* Compile-time variants, chosen per call: partial last vector or not ... */
AVX512_INLINE void conv_masking(const small_tile *t, int P, int V, int U) {
    if (t->channels % AVX512_LANES) conv_tile(t, P, V, U, 1);
    else conv_tile(t, P, V, U, 0);
}

/* ... one weight vector when 16 channels or fewer (twice the splits to keep the chains) ... */
AVX512_INLINE void conv_widths(const small_tile *t, int P, int U) {
    if (t->channels > AVX512_LANES) conv_masking(t, P, CONV_VECTORS, U);
    else conv_masking(t, P, 1, 2 * U);
}

/* ... and by pixel count: a half tile for 2 to 6 pixels (the end of a row), and a single pixel
 * (the borders of a padded row) as 4 interleaved sums rather than 12 pixels of which 11 would be
 * thrown away. */
void avx512_conv_12x32(const small_tile *tile) {
    const small_tile t = *tile; /* a local: stores cannot alias it, so its fields stay in registers */
    if (t.pixels > CONV_PIXELS / 2) conv_widths(&t, CONV_PIXELS, 1);
    else if (t.pixels > 1) conv_widths(&t, CONV_PIXELS / 2, 1);
    else conv_widths(&t, 1, 4);
}
