/* Winograd F(2x2, 3x3) for 3x3 stride-1 convs: each 4x4 input tile (2x2 outputs, tiles 2 apart) is
 * transformed (V = B^T d B), multiplied point by point with the transformed weights (U = G g G^T) and
 * summed over the input channels, which for each of the 16 points is a 1x1 conv over the tiles: the
 * conv kernel's own work, on a workspace; then transformed back (Y = A^T M A, with bias and
 * activation). 16 multiplications per tile and channel pair instead of 36.
 *
 * Tiles are numbered row by row over the output and cut into chunks of a fixed size (the unit of work
 * of the threads), so each result is computed the same way at every thread count. A chunk's V and M
 * live on the stack: WINOGRAD_WORKSPACE_FLOATS bounds the tiles of a chunk. */
#include "winograd.h"

#include <stdint.h>

#include "threads.h"

enum {
    WINOGRAD_WORKSPACE_FLOATS = 24576, /* 96 KiB of stack: V and M of a chunk */
    WINOGRAD_MIN_CHANNELS = 16,        /* fewer: the 1x1 products are too short to pay for the transforms */
    WINOGRAD_MIN_CHUNK = 4,            /* fewer tiles per 1x1 product: the kernel idles */
    CHUNK_FLOATS = 4096,               /* V and M of a chunk in 16 KiB, half an L1 (chunk_tiles) */
    FEW_CHUNKS = 4,                    /* fewer chunks than this are made an even number (chunk_tiles) */
    POINTS = 16,
};

static int min_int(int a, int b) { return a < b ? a : b; }

/* Tiles of the output; planned layers have fewer than INT_MAX (their output has), but
 * small_winograd_applies sees the layer before its output is checked: 64 bits. */
static int64_t tile_count(const small_nest *n) { return (int64_t)((n->out.h + 1) / 2) * ((n->out.w + 1) / 2); }

/* The most tiles a chunk may hold: as many as the workspace holds V and M for (0 when the channels
 * are too many for one tile), in 64 bits before anything is refused (channels up to INT_MAX). */
static int most_tiles(const small_nest *n) {
    const int64_t fit = WINOGRAD_WORKSPACE_FLOATS / ((int64_t)POINTS * ((int64_t)n->in.c + n->out.c));
    const int64_t tiles = tile_count(n);
    return (int)(fit < tiles ? fit : tiles);
}

/* Tiles per chunk: whole pixel tiles of the kernel, as many as keep V and M in half an L1, at least
 * one (32x32x16 on AVX-512 took 0.9x the time of the workspace's 48 tiles; AVX2 0.95x that of 12 rather
 * than 6 tiles, though more tiles make fewer kernel calls); but where that leaves 2 or 3 chunks, an even
 * number of about equal ones, so that 2 threads take equal shares (a thread keeps its share: 16 tiles
 * as 12 + 4 took 0.75x the time of 1 thread, as 8 + 8 0.57x). It depends on the layer and the kernel
 * alone. */
static int chunk_tiles(const small_nest *n, const small_kernel_choice *k) {
    const int tiles = (int)tile_count(n), most = most_tiles(n); /* a planned layer's: fewer than INT_MAX */
    const int fit = CHUNK_FLOATS / (POINTS * (n->in.c + n->out.c)) / k->pixel_tile; /* pixel tiles in L1 */
    const int chunk = min_int(most, (fit > 1 ? fit : 1) * k->pixel_tile), units = (tiles + chunk - 1) / chunk;
    if (units <= 1 || units >= FEW_CHUNKS) return chunk;
    for (int u = units + (units & 1); u >= 2; u -= 2) { /* fewer, larger chunks first */
        const int c = (tiles + u - 1) / u;
        if (c > most) break;
        if ((tiles + c - 1) / c % 2 == 0) return c;
    }
    for (int u = units + 1 + (units & 1); u < 2 * FEW_CHUNKS; u += 2) {
        const int c = (tiles + u - 1) / u;
        if (c < WINOGRAD_MIN_CHUNK) break;
        if ((tiles + c - 1) / c % 2 == 0) return c;
    }
    return chunk;
}

int small_winograd_applies(const small_nest *n, const small_kernel_choice *k) {
    if (!k->info->winograd_input || !k->info->winograd_output || n->matvec) return 0;
    if (n->kernel_h != 3 || n->kernel_w != 3 || n->stride_h != 1 || n->stride_w != 1 || n->dilation_h != 1 ||
        n->dilation_w != 1 || n->groups != 1 || n->depth != n->in.c)
        return 0;
    if (n->in.c < WINOGRAD_MIN_CHANNELS || n->out.c < WINOGRAD_MIN_CHANNELS || n->out.h < 2 || n->out.w < 2) return 0;
    const int64_t tiles = tile_count(n);
    return most_tiles(n) >= (tiles < WINOGRAD_MIN_CHUNK ? tiles : WINOGRAD_MIN_CHUNK);
}

void small_pack_winograd(const small_kernel_choice *k, const float *ohwi, int out_channels, int depth, float *packed) {
    const int block = small_channel_block(k, out_channels);
    for (int o = 0; o < out_channels; ++o) {
        const int c0 = o / block * block, nc = min_int(block, out_channels - c0), c = o - c0;
        float *dst = packed + (size_t)c0 * POINTS * depth;
        for (int d = 0; d < depth; ++d) {
            float g[3][3], t[4][3];
            for (int i = 0; i < 3; ++i)
                for (int j = 0; j < 3; ++j) g[i][j] = ohwi[((size_t)o * 9 + i * 3 + j) * depth + d];
            for (int j = 0; j < 3; ++j) { /* G g: rows g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2 */
                t[0][j] = g[0][j];
                t[1][j] = 0.5f * (g[0][j] + g[1][j] + g[2][j]);
                t[2][j] = 0.5f * (g[0][j] - g[1][j] + g[2][j]);
                t[3][j] = g[2][j];
            }
            for (int i = 0; i < 4; ++i) { /* (G g) G^T, the same along the columns */
                const float u[4] = {t[i][0], 0.5f * (t[i][0] + t[i][1] + t[i][2]), 0.5f * (t[i][0] - t[i][1] + t[i][2]),
                                    t[i][2]};
                for (int j = 0; j < 4; ++j) dst[((size_t)(4 * i + j) * depth + d) * nc + c] = u[j];
            }
        }
    }
}

typedef struct {
    const small_nest *n;
    const small_kernel_choice *k;
    const float *u; /* the transformed weights (small_pack_winograd) */
    const float *x;
    float *y;
    int tiles_w, tiles, chunk;
    int not_finite; /* set by any chunk that met a result that is not finite */
} winograd_run;

/* V of `count` tiles of tile row ty from column tx, to tile t of the chunk's workspace. */
static void input_segment(const winograd_run *r, int t, int ty, int tx, int count, float *work) {
    const small_nest *n = r->n;
    const int cin = n->in.c, row0 = 2 * ty - n->pad_top;
    const int lo = row0 < 0 ? -row0 : 0, hi = min_int(4, n->in.h - row0);
    const ptrdiff_t row_step = (ptrdiff_t)n->in.w * cin;
    small_winograd_input a = {
        .x = lo < hi ? r->x + (row0 + lo) * row_step : r->x, .x_row_step = row_step, .x_col_step = cin,
        .row_lo = lo, .row_hi = hi < lo ? lo : hi, .col_first = 2 * tx - n->pad_left, .width = n->in.w,
        .tiles = count, .channels = cin, .v = work + (ptrdiff_t)t * cin, .v_tile_step = cin,
        .v_point_step = (ptrdiff_t)r->chunk * cin};
    r->k->info->winograd_input(a);
}

static void run_chunks(void *context, int u0, int u1) {
    winograd_run *r = context;
    const small_nest *n = r->n;
    const small_kernel_choice *k = r->k;
    const int cin = n->in.c, cout = n->out.c, chunk = r->chunk, block = small_channel_block(k, cout);
    const int step = k->info->whole_rows ? chunk : k->pixel_tile;
    _Alignas(64) float work[WINOGRAD_WORKSPACE_FLOATS];
    float *v = work, *m = work + (size_t)POINTS * chunk * cin;
    const ptrdiff_t out_row = (ptrdiff_t)n->out.w * n->y_pixel_step;
    for (int u = u0; u < u1; ++u) {
        const int t0 = u * chunk, t1 = min_int(t0 + chunk, r->tiles), count = t1 - t0;
        for (int t = t0; t < t1;) { /* V, a row of tiles at a time */
            const int ty = t / r->tiles_w, tx = t % r->tiles_w, seg = min_int(r->tiles_w - tx, t1 - t);
            input_segment(r, t - t0, ty, tx, seg, v);
            t += seg;
        }
        /* M = V U: point by point a 1x1 conv of the chunk's tiles */
        small_tile tile = {.x_pixel_step = cin, .taps_h = 1, .taps_w = 1, .depth = cin, .y_pixel_step = cout,
                           .activation = SMALL_ACT_NONE};
        for (int p = 0; p < POINTS; ++p)
            for (int c0 = 0; c0 < cout; c0 += block) {
                const int nc = min_int(block, cout - c0);
                tile.channels = nc;
                tile.w = r->u + (size_t)c0 * POINTS * cin + (size_t)p * cin * nc;
                for (int q = 0; q < count; q += step) {
                    tile.pixels = min_int(step, count - q);
                    tile.x = v + ((ptrdiff_t)p * chunk + q) * cin;
                    tile.y = m + ((ptrdiff_t)p * chunk + q) * cout + c0;
                    k->info->run(&tile);
                }
            }
        for (int t = t0; t < t1;) { /* Y, a row of tiles at a time */
            const int ty = t / r->tiles_w, tx = t % r->tiles_w, seg = min_int(r->tiles_w - tx, t1 - t);
            small_winograd_output o = {
                .m = m + (ptrdiff_t)(t - t0) * cout, .m_tile_step = cout, .m_point_step = (ptrdiff_t)chunk * cout,
                .tiles = seg, .channels = cout, .rows = min_int(2, n->out.h - 2 * ty), .cols = n->out.w - 2 * tx,
                .bias = n->bias, .activation = n->activation, .alpha = n->alpha,
                .y = r->y + 2 * ty * out_row + (ptrdiff_t)2 * tx * n->y_pixel_step, .y_row_step = out_row,
                .y_col_step = n->y_pixel_step};
            if (k->info->winograd_output(o)) __atomic_store_n(&r->not_finite, 1, __ATOMIC_RELAXED);
            t += seg;
        }
    }
}

int small_winograd_run(const small_nest *n, const small_kernel_choice *k, const float *transformed, const float *x,
                       float *y, int threads) {
    winograd_run r = {.n = n, .k = k, .u = transformed, .x = x, .y = y, .tiles_w = (n->out.w + 1) / 2,
                      .tiles = (int)tile_count(n), .chunk = chunk_tiles(n, k)};
    const int units = (r.tiles + r.chunk - 1) / r.chunk;
    const double macs = (double)n->out.h * n->out.w * n->out.c * 9 * n->in.c;
    if (threads > 1 && macs >= SMALL_MIN_PARALLEL_MACS)
        small_parallel_for(threads, units, 0, run_chunks, &r);
    else
        run_chunks(&r, 0, units);
    return r.not_finite;
}
