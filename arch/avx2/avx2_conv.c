/* Convolution tile of up to 6 pixels x 16 channels: per reduction step, one broadcast input value
 * per pixel times two weight vectors into 12 ymm accumulators (16 registers: 12 + 2 weights + 1
 * broadcast). Weights are packed [tap][depth][block width], so a step reads one weight row. */
#include "avx2_common.h"

enum { CONV_PIXELS = 6, CONV_VECTORS = 2, MAX_SPLITS = 8 };

/* One reduction step k of every pixel: xs[p] points at pixel p's input at this tap. */
AVX2_INLINE void conv_step(__m256 acc[CONV_PIXELS][CONV_VECTORS], const float *const *xs, ptrdiff_t k,
                           const float *w, int P, int V, int masked, __m256i mask) {
    __m256 wv[CONV_VECTORS];
    AVX2_UNROLL for (int v = 0; v < V; ++v) wv[v] = avx2_load(w + v * AVX2_LANES, masked && v == V - 1, mask);
    AVX2_UNROLL for (int p = 0; p < P; ++p) {
        const __m256 xb = _mm256_broadcast_ss(xs[p] + k);
        AVX2_UNROLL for (int v = 0; v < V; ++v) acc[p][v] = _mm256_fmadd_ps(xb, wv[v], acc[p][v]);
    }
}

/* P pixels (1 or 6) by V vectors; the reduction is split into U interleaved partial sums so that
 * every instance keeps 8 to 12 independent FMA chains in flight (FMA latency 4, 2 per cycle).
 * masked: the last vector is partial (channels not a multiple of 8). All of P, V, U, masked are
 * constants at each call, so the loops over them unroll and `acc` stays in registers.
 * Pixels beyond t->pixels repeat the last real pixel's input (valid memory) and are not stored. */
AVX2_INLINE void conv_tile(const small_tile *t, int P, int V, int U, int masked) {
    const int nc = masked ? t->channels : V * AVX2_LANES; /* weight row width */
    const __m256i mask = avx2_lanes(t->channels - (V - 1) * AVX2_LANES);
    const float *xp[CONV_PIXELS];
    AVX2_UNROLL for (int p = 0; p < P; ++p)
        xp[p] = t->x + (p < t->pixels ? p : t->pixels - 1) * t->x_pixel_step;
    __m256 acc[MAX_SPLITS][CONV_PIXELS][CONV_VECTORS];
    AVX2_UNROLL for (int u = 0; u < U; ++u)
        AVX2_UNROLL for (int p = 0; p < P; ++p)
            AVX2_UNROLL for (int v = 0; v < V; ++v) acc[u][p][v] = _mm256_setzero_ps();
    for (int i = 0; i < t->taps_h; ++i)
        for (int j = 0; j < t->taps_w; ++j) {
            const float *w = t->w + i * t->w_row_step + j * t->w_col_step;
            const float *xs[CONV_PIXELS];
            AVX2_UNROLL for (int p = 0; p < P; ++p) xs[p] = xp[p] + i * t->x_row_step + j * t->x_col_step;
            int k = 0;
            for (; k + U <= t->depth; k += U, w += U * nc)
                AVX2_UNROLL for (int u = 0; u < U; ++u) conv_step(acc[u], xs, k + u, w + u * nc, P, V, masked, mask);
            for (; k < t->depth; ++k, w += nc) conv_step(acc[0], xs, k, w, P, V, masked, mask);
        }
    const avx2_epilogue e = avx2_epilogue_of(t);
    AVX2_UNROLL for (int v = 0; v < V; ++v) {
        const int last = masked && v == V - 1;
        const __m256 bias = t->bias ? avx2_load(t->bias + v * AVX2_LANES, last, mask) : _mm256_setzero_ps();
        AVX2_UNROLL for (int p = 0; p < P; ++p) {
            __m256 sum = acc[0][p][v];
            AVX2_UNROLL for (int u = 1; u < U; ++u) sum = _mm256_add_ps(sum, acc[u][p][v]);
            if (p < t->pixels)
                avx2_store(t->y + p * t->y_pixel_step + v * AVX2_LANES, avx2_activate(_mm256_add_ps(sum, bias), &e),
                           last, mask);
        }
    }
}

/* Compile-time variants, chosen per call: partial last vector or not ... */
AVX2_INLINE void conv_masking(const small_tile *t, int P, int V, int U) {
    if (t->channels % AVX2_LANES) conv_tile(t, P, V, U, 1);
    else conv_tile(t, P, V, U, 0);
}

/* ... one weight vector when 8 channels or fewer (twice the splits to keep the chains) ... */
AVX2_INLINE void conv_widths(const small_tile *t, int P, int U) {
    if (t->channels > AVX2_LANES) conv_masking(t, P, CONV_VECTORS, U);
    else conv_masking(t, P, 1, 2 * U);
}

/* ... and a single pixel (the borders of a padded row) as 4 interleaved sums rather than 6
 * pixels of which 5 would be thrown away. */
void avx2_conv_6x16(const small_tile *tile) {
    const small_tile t = *tile; /* a local: stores cannot alias it, so its fields stay in registers */
    if (t.pixels == 1) conv_widths(&t, 1, 4);
    else conv_widths(&t, CONV_PIXELS, 1);
}
