/* nest_walk.h: the walk of the one loop nest, written once and instantiated per element type: nest.c
 * for float tensors, nest_s8.c for int8 ones. Not a header of its own: each includes it once, after
 * defining
 *   NEST_NAME(name)          this instance's name of an entry point (float: the name; int8: name_s8);
 *                            the static functions and small_nest_walk are the including file's own
 *   NEST_ELEM                the tensors' and the packed weights' element: float, int8_t
 *   NEST_TILE, NEST_TILE_FN  the kernels' tile and function types (small_tile, small_tile_s8: the same
 *                            fields x, x2, w, y and steps), NEST_RUN the kernel info's member (run, run_s8)
 *   NEST_WEIGHTS, NEST_BIAS  small_nest's packed weights and per-channel data, which NEST_BIAS names in
 *                            the tile too (bias, or the int8 kinds' requant records)
 *   NEST_EPILOGUE_INIT(n), NEST_EPILOGUE_SET(t, n)  a tile's layer-wide epilogue from nest n (float:
 *                            activation and alpha; int8: zero points and clamp)
 * The geometry, the steps (in elements) and the plan are the same for every type: only the tile's type
 * and the elements' size differ, both fixed at compile time. The float instance is the code as it was
 * before int8 came: the same objects (GCC, AArch64; clang, RISC-V) and the same QEMU counts. */

/* The working record of a walk (see "The plan" in nest.h): steps and tile fields, a few dozen integer
 * operations to set up, which cost an inference fewer instructions than reading them from a stored
 * record would. */
typedef struct {
    const small_nest *n;
    const small_kernel_choice *k;
    const NEST_ELEM *x, *x2;
    NEST_ELEM *y;
    int mac, groups, group_out, block, blocks_per_group, depth, chunk, chunks, ow_lo, ow_hi;
    int call_pixels;    /* most pixels per kernel call: the pixel tile, or a whole row (whole_rows) */
    int spatial_units;  /* out.h * chunks */
    int row_run;        /* reduce a conv's window row as one tap (nest_plan.c) */
    int chunk_major;    /* units numbered chunk by chunk, each across the rows (a transposed walk) */
    /* Elements between neighbours along the walked rows (h) and columns (w): input, output, and taps of
     * the packed weights (in runs of depth * block). A transposed walk swaps them (nest_plan.c). */
    ptrdiff_t x_h, x_w, y_h, y_w, w_h, w_w;
    int blocks_inside;  /* a unit covers every channel block (else one) */
    NEST_TILE proto;    /* the fields every tile shares */
} small_nest_walk;


/* Channel block gb of all groups' blocks: its group, and its channels [b0, b_end) of the group's,
 * which end at group_end. */
typedef struct {
    int g, group_end, b0, b_end;
} block_span;

static block_span block_of(const small_nest_walk *r, int gb) {
    block_span b;
    b.g = gb / r->blocks_per_group;
    b.group_end = (b.g + 1) * r->group_out;
    b.b0 = b.g * r->group_out + gb % r->blocks_per_group * r->block;
    b.b_end = r->blocks_per_group > 1 ? small_min_int(b.b0 + r->block, b.group_end) : b.group_end;
    return b;
}

/* The tiles of output row oh, columns [ow_begin, ow_end), in block b, through t: the caller's tile,
 * which holds the fields every tile shares (a row does not copy them). Inlined: a call per row cost
 * up to 9% more stores on small layers (RISC-V counts). */
static inline __attribute__((always_inline)) void run_row(const small_nest_walk *r, NEST_TILE *t, const block_span *b, int oh,
                                                         int ow_begin, int ow_end) {
    const small_nest *n = r->n;
    const small_kernel_choice *k = r->k;
    const int g = b->g, group_end = b->group_end, b0 = b->b0, b_end = b->b_end;
    const int ih0 = oh * n->stride_h - n->pad_top;
    int i_lo, i_hi;
    small_clip_window(ih0, n->kernel_h, n->dilation_h, n->in.h, &i_lo, &i_hi);
    for (int ow = ow_begin; ow < ow_end; ow += t->pixels) {
        const int iw0 = ow * n->stride_w - n->pad_left;
        int j_lo = 0, j_hi = n->kernel_w; /* the interior's whole window row: no division */
        if (ow >= r->ow_lo && ow < r->ow_hi) {
            t->pixels = small_min_int(r->call_pixels, small_min_int(r->ow_hi, ow_end) - ow);
        } else {
            small_clip_window(iw0, n->kernel_w, n->dilation_w, n->in.w, &j_lo, &j_hi);
            t->pixels = 1;
        }
        t->taps_h = i_hi - i_lo;
        t->taps_w = j_hi - j_lo;
        if (r->row_run && t->taps_w > 1) {
            t->depth = t->taps_w * r->depth;
            t->taps_w = 1;
        } else {
            t->depth = r->depth;
        }
        /* An empty window reads nothing; point at the tensor start to stay in bounds. */
        const ptrdiff_t x_offset =
            (t->taps_h && t->taps_w)
                ? (ptrdiff_t)(ih0 + i_lo * n->dilation_h) * r->x_h + (ptrdiff_t)(iw0 + j_lo * n->dilation_w) * r->x_w
                : 0;
        for (int c0 = b0; c0 < b_end; c0 += r->block) {
            const int nc = small_min_int(r->block, group_end - c0);
            const ptrdiff_t x_channel = r->mac ? (ptrdiff_t)g * n->depth : c0;
            t->channels = nc;
            t->NEST_BIAS = n->NEST_BIAS ? n->NEST_BIAS + c0 : 0;
            t->w_col_step = r->w_w * r->depth * nc;
            t->w_row_step = r->w_h * r->depth * nc;
            t->x = r->x + x_offset + x_channel;
            t->x2 = r->x2 ? r->x2 + x_offset + x_channel : 0;
            t->w = n->NEST_WEIGHTS ? n->NEST_WEIGHTS + (size_t)c0 * n->kernel_h * n->kernel_w * r->depth +
                                   (i_lo * r->w_h + j_lo * r->w_w) * r->depth * nc
                             : 0;
            t->y = r->y + oh * r->y_h + ow * r->y_w + c0;
            k->info->NEST_RUN(t);
        }
    }
}

/* Border column ow over rows [oh_begin, oh_end), whose windows all lie inside the input's rows: its
 * pixels share one clipped window, so they go to the kernel as tiles of pixels a row apart, instead
 * of one call per pixel (a lone pixel's call cost about 27 ns on AVX-512: 3 of the 9 us of MobileNet's
 * 48x48x8 depthwise layer). Channelwise kinds only (run_units_columns). Its channel-block loop is
 * run_row's, specialised: sharing one (always inlined) cost the conv layers 2-5% more stores on SVE. */
static void run_column(const small_nest_walk *r, NEST_TILE *t, const block_span *b, int ow, int oh_begin, int oh_end) {
    const small_nest *n = r->n;
    const int iw0 = ow * n->stride_w - n->pad_left;
    int j_lo, j_hi;
    small_clip_window(iw0, n->kernel_w, n->dilation_w, n->in.w, &j_lo, &j_hi);
    const ptrdiff_t x_pixel_step = t->x_pixel_step, y_pixel_step = t->y_pixel_step;
    t->x_pixel_step = n->stride_h * r->x_h;
    t->y_pixel_step = r->y_h;
    t->taps_h = n->kernel_h;
    t->taps_w = j_hi - j_lo;
    t->depth = r->depth;
    const int most = r->k->info->whole_rows ? oh_end - oh_begin : r->k->pixel_tile;
    for (int oh = oh_begin; oh < oh_end; oh += t->pixels) {
        t->pixels = small_min_int(most, oh_end - oh);
        const ptrdiff_t x_offset =
            t->taps_w ? (ptrdiff_t)(oh * n->stride_h - n->pad_top) * r->x_h + (ptrdiff_t)(iw0 + j_lo * n->dilation_w) * r->x_w
                      : 0;
        /* A channelwise kind's channel blocks (one depth, no second input, as nothing padded has one). */
        for (int c0 = b->b0; c0 < b->b_end; c0 += r->block) {
            const int nc = small_min_int(r->block, b->b_end - c0);
            t->channels = nc;
            t->NEST_BIAS = n->NEST_BIAS ? n->NEST_BIAS + c0 : 0;
            t->w_col_step = r->w_w * nc;
            t->w_row_step = r->w_h * nc;
            t->x = r->x + x_offset + c0;
            t->w = n->NEST_WEIGHTS ? n->NEST_WEIGHTS + (size_t)c0 * n->kernel_h * n->kernel_w + j_lo * r->w_w * nc : 0;
            t->y = r->y + oh * r->y_h + ow * r->y_w + c0;
            r->k->info->NEST_RUN(t);
        }
    }
    t->x_pixel_step = x_pixel_step;
    t->y_pixel_step = y_pixel_step;
}

/* Rows [oh_begin, oh_end), columns [ow_begin, ow_end), in block b, of a layer with border columns:
 * the rows of [oh_lo, oh_hi), whose windows lie inside the input's rows, leave their border pixels to
 * run_column, afterwards. */
static void run_band(const small_nest_walk *r, NEST_TILE *t, const block_span *b, int oh_begin, int oh_end, int ow_begin,
                     int ow_end, int oh_lo, int oh_hi) {
    const int full_begin = small_max_int(oh_begin, oh_lo), full_end = small_min_int(oh_end, oh_hi);
    const int inner_begin = small_max_int(ow_begin, r->ow_lo), inner_end = small_min_int(ow_end, r->ow_hi);
    for (int oh = oh_begin; oh < oh_end; ++oh) {
        const int full = oh >= full_begin && oh < full_end;
        run_row(r, t, b, oh, full ? inner_begin : ow_begin, full ? inner_end : ow_end);
    }
    if (full_begin >= full_end) return;
    for (int ow = ow_begin; ow < small_min_int(ow_end, r->ow_lo); ++ow) run_column(r, t, b, ow, full_begin, full_end);
    for (int ow = small_max_int(ow_begin, r->ow_hi); ow < ow_end; ++ow) run_column(r, t, b, ow, full_begin, full_end);
}

/* The tiles of spatial units [s0, s1) in channel block gb (of all groups' blocks). Decoded once, then
 * stepped (divisions per unit cost as much as a small tile). */
static void run_spatial(const small_nest_walk *r, int gb, int s0, int s1) {
    const int rows = r->n->out.h, width = r->n->out.w;
    const block_span b = block_of(r, gb);
    NEST_TILE t = r->proto;
    if (r->chunk_major) { /* unit = chunk * rows + row */
        int oh = s0 % rows, chunk = s0 / rows;
        for (int s = s0; s < s1; ++s) {
            run_row(r, &t, &b, oh, chunk * r->chunk, small_min_int(width, (chunk + 1) * r->chunk));
            if (++oh == rows) oh = 0, ++chunk;
        }
        return;
    }
    /* unit = row * chunks + chunk: the chunks of one row in range are one stretch, as chunks are
     * whole pixel tiles (so its tiles are theirs). */
    int chunk = s0 % r->chunks, oh = s0 / r->chunks;
    for (int s = s0; s < s1; chunk = 0, ++oh) {
        const int chunks = small_min_int(r->chunks - chunk, s1 - s);
        s += chunks;
        run_row(r, &t, &b, oh, chunk * r->chunk, small_min_int(width, (chunk + chunks) * r->chunk));
    }
}

/* run_units of a channelwise layer with borders (units are rows, or chunk * rows + row when
 * chunk_major, over all channels; with split_blocks, block by block): a band per chunk. Channelwise
 * kernels compute each pixel alone, the same way in a tile of any size and channel count
 * (small_kernel.h), so the border columns' tiles may follow the unit ranges
 * (the thread count) and change no result; conv sums a lone pixel's products in another order than a
 * tile's, so it keeps its pixels in rows. Chosen per layer, so that the other layers' walk stays as it
 * was (one walk for both cost the conv layers of ResNet-8 4-13% more stores under QEMU, SVE). */
static void run_columns_spatial(const small_nest_walk *r, int gb, int s0, int s1) {
    const small_nest *n = r->n;
    const int rows = n->out.h, width = n->out.w;
    /* Rows [oh_lo, oh_hi): the whole window column lies inside the input. Found per call, not kept in
     * small_nest_walk: a larger small_nest_walk cost every small layer stores (QEMU counts). */
    int oh_lo, oh_hi;
    small_inside_range(n->pad_top, n->stride_h, n->kernel_h, n->dilation_h, n->in.h, rows, &oh_lo, &oh_hi);
    const block_span b = block_of(r, gb);
    NEST_TILE t = r->proto;
    for (int s = s0; s < s1;) {
        const int chunk = r->chunk_major ? s / rows : 0, oh = r->chunk_major ? s % rows : s;
        const int count = small_min_int(rows - oh, s1 - s);
        run_band(r, &t, &b, oh, oh + count, chunk * r->chunk, small_min_int(width, (chunk + 1) * r->chunk), oh_lo, oh_hi);
        s += count;
    }
}

/* Units block by block, as run_units numbers them: one block, or those of split_blocks. */
static void run_units_columns(void *context, int u0, int u1) {
    const small_nest_walk *r = context;
    const int spatial = r->spatial_units;
    for (int gb = u0 / spatial; gb < r->blocks_per_group && gb * spatial < u1; ++gb)
        run_columns_spatial(r, gb, small_max_int(u0 - gb * spatial, 0), small_min_int(u1 - gb * spatial, spatial));
}

/* MAC kinds walk channel blocks outside the rows, so that a block's packed weights stay in cache
 * over the rows. */
static void run_units(void *context, int u0, int u1) {
    const small_nest_walk *r = context;
    const int blocks = r->groups * r->blocks_per_group, spatial = r->spatial_units;
    if (r->blocks_inside) {
        for (int gb = 0; gb < blocks; ++gb) run_spatial(r, gb, u0, u1);
        return;
    }
    for (int gb = u0 / spatial; gb < blocks && gb * spatial < u1; ++gb)
        run_spatial(r, gb, small_max_int(u0 - gb * spatial, 0), small_min_int(u1 - gb * spatial, spatial));
}

/* Fully connected (the nest's degenerate case: one pixel, one tap): a unit is one channel block, one
 * kernel call, with no window to clip: none of small_nest_walk's set-up. */
typedef struct {
    const small_nest *n;
    NEST_TILE_FN run;
    int block;
    const NEST_ELEM *x;
    NEST_ELEM *y;
} matvec_run;

static void run_matvec_units(void *context, int u0, int u1) {
    const matvec_run *r = context;
    const small_nest *n = r->n;
    NEST_TILE t = {.x = r->x, .taps_h = 1, .taps_w = 1, .depth = n->depth, .pixels = 1,
                    NEST_EPILOGUE_INIT(n)};
    for (int u = u0; u < u1; ++u) {
        const int c0 = u * r->block;
        t.channels = small_min_int(r->block, n->out.c - c0);
        t.NEST_BIAS = n->NEST_BIAS ? n->NEST_BIAS + c0 : 0;
        t.w = n->NEST_WEIGHTS + (size_t)c0 * n->depth;
        t.y = r->y + c0;
        r->run(&t);
    }
}

/* Thread t's share of a layer whose units each cover every channel block: the units of stored output
 * rows [rows * t / threads, rows * (t + 1) / threads), the same rows as in every other layer of that
 * height (and the same part of the image in layers of other heights), so that each thread reads
 * mostly what it wrote one layer before. A transposed walk's units are bands of r->chunk stored rows
 * (each of n->out.h units, its columns), so its shares end at the band nearest the row; a flattened
 * layer's are pixel tiles, so its shares end at the tile nearest pixel pixels * t / threads. */
static void row_shares(const small_nest_walk *r, int flattened, int threads, int *first) {
    const small_nest *n = r->n;
    const int units = r->spatial_units;
    for (int t = 0; t < threads; ++t) {
        int unit;
        if (r->chunk_major) {
            const int row = (int)((long long)n->out.w * t / threads); /* out.w: the stored rows */
            unit = (row + r->chunk / 2) / r->chunk * n->out.h;
        } else if (flattened) {
            unit = (int)(((long long)n->out.w * t / threads + r->chunk / 2) / r->chunk);
        } else {
            unit = (int)((long long)n->out.h * t / threads) * r->chunks;
        }
        first[t] = small_min_int(unit, units);
    }
    first[threads] = units;
}

/* Apart from small_small_nest_walk, so that the shares' array does not grow its frame (the stores of small
 * layers, which run on one thread: QEMU counts). */
static __attribute__((noinline)) void run_parallel(const small_nest_walk *r, int units, int columns, int flattened,
                                                   int threads) {
    int first[SMALL_MAX_THREADS + 1]; /* row shares where a unit covers every channel block */
    if (r->blocks_inside) row_shares(r, flattened, threads, first);
    small_parallel_for(threads, units, r->blocks_inside ? first : NULL, columns ? run_units_columns : run_units, (void *)r);
}

/* The FC kind's walk apart from the others', so that neither's frame is the other's (FC layers are
 * small: each saved register is a store per inference under QEMU). */
__attribute__((noinline)) void NEST_NAME(small_nest_walk_matvec)(const small_nest_plan *p, const small_nest *n,
                                                     const small_kernel_choice *k, const NEST_ELEM *x, NEST_ELEM *y,
                                                     int threads) {
    matvec_run r = {.n = n, .run = k->info->NEST_RUN, .block = small_channel_block(k, n->out.c), .x = x, .y = y};
    if (threads > 1 && p->parallel)
        small_parallel_for(threads, p->blocks, NULL, run_matvec_units, &r);
    else
        run_matvec_units(&r, 0, p->blocks);
}

__attribute__((noinline)) void NEST_NAME(small_nest_walk_nest)(const small_nest_plan *p, const small_nest *layer,
                                                   const small_kernel_choice *k, const NEST_ELEM *x, const NEST_ELEM *x2,
                                                   NEST_ELEM *y, int threads) {
    small_nest view; /* made only where the plan walks another view than the layer's (a copy costs) */
    const small_nest *n = layer;
    if (p->flattened || p->transposed) {
        small_nest_view(p, layer, &view);
        n = &view;
    }
    /* Floats between neighbours in the tensors as stored (HWC, output pixels y_pixel_step apart); a
     * transposed view swaps them, as the plan swapped the geometry. */
    const int transposed = p->transposed;
    const ptrdiff_t in_h = transposed ? n->in.c : (ptrdiff_t)n->in.w * n->in.c;
    const ptrdiff_t in_w = transposed ? (ptrdiff_t)n->in.h * n->in.c : n->in.c;
    const ptrdiff_t out_h = transposed ? n->y_pixel_step : (ptrdiff_t)n->out.w * n->y_pixel_step;
    const ptrdiff_t out_w = transposed ? (ptrdiff_t)n->out.h * n->y_pixel_step : n->y_pixel_step;
    small_nest_walk r = {.n = n, .k = k, .x = x, .x2 = x2, .y = y};
    r.x_h = in_h, r.x_w = in_w, r.y_h = out_h, r.y_w = out_w;
    r.w_h = transposed ? 1 : n->kernel_w, r.w_w = transposed ? n->kernel_h : 1; /* taps are packed [kh][kw] */
    r.mac = n->depth > 0; /* broadcast-MAC ops reduce over a group's input channels */
    r.groups = r.mac ? n->groups : 1;
    r.group_out = n->out.c / r.groups;
    r.block = small_channel_block(k, r.group_out);
    /* MAC kinds walk channel blocks outermost, so that a block's packed weights stay in cache over
     * the whole output. Channelwise kinds have no weights to keep (or a few): they walk blocks
     * innermost, so that each pixel's channels are read contiguously, which the prefetchers follow
     * far better than short runs a channel block apart; but at 2+ threads a small image's blocks are
     * units of their own (the plan's can_split_blocks). */
    const int split_blocks = threads > 1 && p->can_split_blocks;
    r.blocks_per_group = r.mac || split_blocks ? p->blocks : 1;
    r.depth = r.mac ? n->depth : 1;
    /* A conv's window row is one run of kernel_w * depth floats in the input (channels innermost, no
     * dilation, no groups, rows walked as stored) and in its packed weights ([tap][depth] per block):
     * reduce it as one tap. */
    r.row_run = r.mac && r.depth == n->in.c && n->dilation_w == 1 && !transposed;
    r.chunk_major = transposed;
    r.chunk = p->chunk;
    r.chunks = p->chunks;
    r.ow_lo = p->ow_lo, r.ow_hi = p->ow_hi;
    r.call_pixels = k->info->whole_rows ? n->out.w : k->pixel_tile;

    NEST_TILE *t = &r.proto;
    t->x_pixel_step = n->stride_w * r.x_w;
    t->x_row_step = n->dilation_h * r.x_h;
    t->x_col_step = n->dilation_w * r.x_w;
    t->depth = r.depth;
    t->y_pixel_step = r.y_w;
    NEST_EPILOGUE_SET(t, n);

    r.spatial_units = n->out.h * r.chunks;
    r.blocks_inside = r.spatial_units >= threads && !split_blocks;
    const int units = r.blocks_inside ? r.spatial_units : r.groups * r.blocks_per_group * r.spatial_units;
    if (threads > 1 && p->parallel) {
        run_parallel(&r, units, p->columns, p->flattened, threads);
    } else if (p->columns) {
        run_units_columns(&r, 0, units);
    } else {
        run_units(&r, 0, units); /* a direct call, which the compiler may inline */
    }
}
