/* simd_vla_group.h: the part of simd_vla.h written once per register group, included by it (no
 * guard: once for VLA_VECTOR, then once per narrower conv group). The ISA's primitives expand
 * VLA_GROUP, so vla_v, vla_load ... are this group's here; VLA_G(name) is name_<group>, and
 * VLA_GROUP_PIXELS the group's conv pixel tile. */

/* This group's lanes on this CPU: its conv kernel's channel tile. */
static int VLA_G(lanes)(void) { return vla_lanes(); }

/* The tile's activation, applied before every store. */
VLA_INLINE vla_v VLA_G(activate)(vla_v v, const small_tile *t, vla_tail tail) {
    switch (t->activation) {
    case SMALL_ACT_RELU: return vla_max(v, vla_dup(0.0f, tail), tail);
    case SMALL_ACT_RELU6: return vla_min(vla_max(v, vla_dup(0.0f, tail), tail), vla_dup(6.0f, tail), tail);
    case SMALL_ACT_LEAKY_RELU: return vla_neg_select(v, vla_mul_scalar(v, t->alpha, tail), tail);
    default: return v;
    }
}

/* Stores accumulator a as pixel p, after the epilogue (and the average's scale), if p is real. */
VLA_INLINE void VLA_G(store_pixel)(const small_tile *t, vla_v a, int p, int np, float scale, vla_tail tail) {
    if (p < np && p < t->pixels) {
        if (scale != 1.0f) a = vla_mul_scalar(a, scale, tail);
        vla_store(t->y + (ptrdiff_t)p * t->y_pixel_step, VLA_G(activate)(a, t, tail), tail);
    }
}

/* ---- conv: np pixels x one vector of output channels; per input channel one weight-row load, then
 * one scalar input and one FMA per pixel. np is a constant at each call: exactly the tile's pixels. */
VLA_INLINE void VLA_G(conv_tile)(const small_tile *t, const int np) {
    const vla_tail tail = vla_tail_of(t->channels);
    const ptrdiff_t w_k_step = t->channels; /* packed [depth][channels] per tap */
    const float *x0 = pixel_input(t, t->x, 0), *x1 = pixel_input(t, t->x, 1), *x2 = pixel_input(t, t->x, 2);
    const float *x3 = pixel_input(t, t->x, 3), *x4 = pixel_input(t, t->x, 4), *x5 = pixel_input(t, t->x, 5);
    const float *x6 = pixel_input(t, t->x, 6), *x7 = pixel_input(t, t->x, 7);
    vla_v a0 = t->bias ? vla_load(t->bias, tail) : vla_dup(0.0f, tail);
    vla_v a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    for (int i = 0; i < t->taps_h; ++i)
        for (int j = 0; j < t->taps_w; ++j) {
            const ptrdiff_t tap = i * t->x_row_step + j * t->x_col_step;
            const float *w = t->w + i * t->w_row_step + j * t->w_col_step;
            for (int k = 0; k < t->depth; ++k, w += w_k_step) {
                const vla_v wk = vla_load(w, tail);
                a0 = vla_fma_scalar(a0, wk, x0[tap + k], tail);
                if (np > 1) a1 = vla_fma_scalar(a1, wk, x1[tap + k], tail);
                if (np > 2) a2 = vla_fma_scalar(a2, wk, x2[tap + k], tail);
                if (np > 3) a3 = vla_fma_scalar(a3, wk, x3[tap + k], tail);
                if (np > 4) a4 = vla_fma_scalar(a4, wk, x4[tap + k], tail);
                if (np > 5) a5 = vla_fma_scalar(a5, wk, x5[tap + k], tail);
                if (np > 6) a6 = vla_fma_scalar(a6, wk, x6[tap + k], tail);
                if (np > 7) a7 = vla_fma_scalar(a7, wk, x7[tap + k], tail);
            }
        }
    VLA_G(store_pixel)(t, a0, 0, np, 1.0f, tail);
    VLA_G(store_pixel)(t, a1, 1, np, 1.0f, tail);
    VLA_G(store_pixel)(t, a2, 2, np, 1.0f, tail);
    VLA_G(store_pixel)(t, a3, 3, np, 1.0f, tail);
    VLA_G(store_pixel)(t, a4, 4, np, 1.0f, tail);
    VLA_G(store_pixel)(t, a5, 5, np, 1.0f, tail);
    VLA_G(store_pixel)(t, a6, 6, np, 1.0f, tail);
    VLA_G(store_pixel)(t, a7, 7, np, 1.0f, tail);
}

#ifdef vla_group_index
/* A tile of c channels, at most half a vector (SVE at 1024 bits and more on 16 or 32 channels): the
 * vector holds g = lanes / c groups of c lanes, and group i reduces input channels k + i. Per step one
 * weight load reads g consecutive weight rows (they are contiguous, packed [depth][c]), and one input
 * load spreads g consecutive inputs of a pixel over the groups; the groups' partial sums are added at
 * the end. So every lane of every FMA is used, but for the last step of a reduction of depth not a
 * multiple of g. */
VLA_INLINE vla_v VLA_G(group_step)(vla_v a, const float *x, vla_v w, int n, vla_group_index_t index, vla_tail all) {
    return vla_fma(a, w, vla_group_load(x, n, index), all);
}

VLA_INLINE void VLA_G(store_groups)(const small_tile *t, vla_v a, int p, int np, int groups, vla_tail tail) {
    if (p >= np) return;
    a = vla_group_sum(a, t->channels, groups);
    if (t->bias) a = vla_add(a, vla_load(t->bias, tail), tail);
    vla_store(t->y + (ptrdiff_t)p * t->y_pixel_step, VLA_G(activate)(a, t, tail), tail);
}

VLA_INLINE void VLA_G(conv_groups)(const small_tile *t, const int np) {
    const int c = t->channels, groups = vla_lanes() / c;
    const vla_group_index_t index = vla_group_index(c);
    const float *x0 = pixel_input(t, t->x, 0), *x1 = pixel_input(t, t->x, 1), *x2 = pixel_input(t, t->x, 2);
    const float *x3 = pixel_input(t, t->x, 3), *x4 = pixel_input(t, t->x, 4), *x5 = pixel_input(t, t->x, 5);
    const float *x6 = pixel_input(t, t->x, 6), *x7 = pixel_input(t, t->x, 7);
    const vla_tail all = vla_tail_of(vla_lanes());
    vla_v a0 = vla_dup(0.0f, all);
    vla_v a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    for (int i = 0; i < t->taps_h; ++i)
        for (int j = 0; j < t->taps_w; ++j) {
            const ptrdiff_t tap = i * t->x_row_step + j * t->x_col_step;
            const float *w = t->w + i * t->w_row_step + j * t->w_col_step;
            for (int k = 0; k < t->depth; k += groups, w += (ptrdiff_t)groups * c) {
                const int n = t->depth - k < groups ? t->depth - k : groups; /* rows in this step */
                const vla_v wk = vla_load(w, vla_tail_of(n * c)); /* lanes past n rows: 0 */
                a0 = VLA_G(group_step)(a0, x0 + tap + k, wk, n, index, all);
                if (np > 1) a1 = VLA_G(group_step)(a1, x1 + tap + k, wk, n, index, all);
                if (np > 2) a2 = VLA_G(group_step)(a2, x2 + tap + k, wk, n, index, all);
                if (np > 3) a3 = VLA_G(group_step)(a3, x3 + tap + k, wk, n, index, all);
                if (np > 4) a4 = VLA_G(group_step)(a4, x4 + tap + k, wk, n, index, all);
                if (np > 5) a5 = VLA_G(group_step)(a5, x5 + tap + k, wk, n, index, all);
                if (np > 6) a6 = VLA_G(group_step)(a6, x6 + tap + k, wk, n, index, all);
                if (np > 7) a7 = VLA_G(group_step)(a7, x7 + tap + k, wk, n, index, all);
            }
        }
    const vla_tail tail = vla_tail_of(c);
    VLA_G(store_groups)(t, a0, 0, np, groups, tail);
    VLA_G(store_groups)(t, a1, 1, np, groups, tail);
    VLA_G(store_groups)(t, a2, 2, np, groups, tail);
    VLA_G(store_groups)(t, a3, 3, np, groups, tail);
    VLA_G(store_groups)(t, a4, 4, np, groups, tail);
    VLA_G(store_groups)(t, a5, 5, np, groups, tail);
    VLA_G(store_groups)(t, a6, 6, np, groups, tail);
    VLA_G(store_groups)(t, a7, 7, np, groups, tail);
}

/* Pixel groups, the other way to fill a vector with a tile of c channels: group i of c lanes holds
 * pixel i of g = lanes / c consecutive pixels, so a reduction of any depth uses every lane (ResNet-8's
 * first layer at 2048 bits: rows of 9 inputs in groups of 4 used 75% of the lanes). Per step one
 * weight row is loaded and spread over the groups, and per vector one load of the span from its first
 * pixel's input to its last's, spread by pixel. Each pixel's sum runs in conv_tile's order, from the
 * bias. The call takes whichever way leaves fewer lanes idle (pixel_groups_pay), which depends on its
 * pixel count, depth and strides alone. */
VLA_INLINE int VLA_G(pixel_groups_pay)(const small_tile *t) {
    const int c = t->channels, lanes = vla_lanes(), np = t->pixels, depth = t->depth;
    if (2 * c > lanes) return 0;
    const int groups = lanes / c;
    /* Depths in whole steps leave no lane idle either way (checked first, as the cheapest); a vector's
     * pixels must lie in one load's span. */
    if (depth % groups == 0 || t->x_pixel_step > (lanes - 1) / (groups - 1)) return 0;
    /* Per tap: ceil(np / g) vectors x depth steps, against np pixels x ceil(depth / g) steps. */
    return (np + groups - 1) / groups * depth < np * ((depth + groups - 1) / groups);
}

/* The input of vector v's first pixel, v * g pixels on (clamped to the last vector's, so that no
 * pointer passes the input). */
VLA_INLINE const float *VLA_G(group_input)(const small_tile *t, int v, int nv, int groups) {
    return t->x + (ptrdiff_t)(v < nv ? v : nv - 1) * groups * t->x_pixel_step;
}

VLA_INLINE vla_v VLA_G(pixels_step)(vla_v a, const float *x, int span, vla_group_index_t at, vla_v w, vla_tail all) {
    return vla_fma(a, w, vla_group_load(x, span, at), all);
}

VLA_INLINE void VLA_G(store_pixel_group)(const small_tile *t, vla_v a, int v, int nv, int groups, vla_tail all) {
    if (v >= nv) return;
    const int c = t->channels, n = v < nv - 1 ? groups : t->pixels - v * groups;
    a = VLA_G(activate)(a, t, all);
    float *y = t->y + (ptrdiff_t)v * groups * t->y_pixel_step;
    if (t->y_pixel_step == c) {
        vla_store(y, a, vla_tail_of(n * c)); /* the pixels are one run */
        return;
    }
    for (int i = 0; i < n; ++i)
        vla_store(y + (ptrdiff_t)i * t->y_pixel_step, vla_group_shift(a, i * c), vla_tail_of(c));
}

/* nv vectors (a constant) of g pixels each, the last holding the rest: t->pixels in ((nv - 1) g, nv g]. */
VLA_INLINE void VLA_G(conv_pixel_groups)(const small_tile *t, const int nv) {
    const int c = t->channels, groups = vla_lanes() / c;
    const vla_group_index_t at = vla_pixel_index(c, (int)t->x_pixel_step), lane = vla_channel_index(c);
    const int full = (groups - 1) * (int)t->x_pixel_step + 1;
    const int last = (t->pixels - (nv - 1) * groups - 1) * (int)t->x_pixel_step + 1;
    const float *x0 = VLA_G(group_input)(t, 0, nv, groups), *x1 = VLA_G(group_input)(t, 1, nv, groups);
    const float *x2 = VLA_G(group_input)(t, 2, nv, groups), *x3 = VLA_G(group_input)(t, 3, nv, groups);
    const float *x4 = VLA_G(group_input)(t, 4, nv, groups), *x5 = VLA_G(group_input)(t, 5, nv, groups);
    const float *x6 = VLA_G(group_input)(t, 6, nv, groups), *x7 = VLA_G(group_input)(t, 7, nv, groups);
    const vla_tail all = vla_tail_of(vla_lanes());
    vla_v a0 = t->bias ? vla_group_load(t->bias, c, lane) : vla_dup(0.0f, all);
    vla_v a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    for (int i = 0; i < t->taps_h; ++i)
        for (int j = 0; j < t->taps_w; ++j) {
            const ptrdiff_t tap = i * t->x_row_step + j * t->x_col_step;
            const float *w = t->w + i * t->w_row_step + j * t->w_col_step;
            for (int k = 0; k < t->depth; ++k, w += c) {
                const vla_v wk = vla_group_load(w, c, lane);
                a0 = VLA_G(pixels_step)(a0, x0 + tap + k, nv > 1 ? full : last, at, wk, all);
                if (nv > 1) a1 = VLA_G(pixels_step)(a1, x1 + tap + k, nv > 2 ? full : last, at, wk, all);
                if (nv > 2) a2 = VLA_G(pixels_step)(a2, x2 + tap + k, nv > 3 ? full : last, at, wk, all);
                if (nv > 3) a3 = VLA_G(pixels_step)(a3, x3 + tap + k, nv > 4 ? full : last, at, wk, all);
                if (nv > 4) a4 = VLA_G(pixels_step)(a4, x4 + tap + k, nv > 5 ? full : last, at, wk, all);
                if (nv > 5) a5 = VLA_G(pixels_step)(a5, x5 + tap + k, nv > 6 ? full : last, at, wk, all);
                if (nv > 6) a6 = VLA_G(pixels_step)(a6, x6 + tap + k, nv > 7 ? full : last, at, wk, all);
                if (nv > 7) a7 = VLA_G(pixels_step)(a7, x7 + tap + k, last, at, wk, all);
            }
        }
    VLA_G(store_pixel_group)(t, a0, 0, nv, groups, all);
    VLA_G(store_pixel_group)(t, a1, 1, nv, groups, all);
    VLA_G(store_pixel_group)(t, a2, 2, nv, groups, all);
    VLA_G(store_pixel_group)(t, a3, 3, nv, groups, all);
    VLA_G(store_pixel_group)(t, a4, 4, nv, groups, all);
    VLA_G(store_pixel_group)(t, a5, 5, nv, groups, all);
    VLA_G(store_pixel_group)(t, a6, 6, nv, groups, all);
    VLA_G(store_pixel_group)(t, a7, 7, nv, groups, all);
}

/* A call in pixel groups: tiles of P vectors, then the rest. */
static __attribute__((noinline)) void VLA_G(conv_pixel_row)(const small_tile *tile) {
    enum { P = VLA_GROUP_PIXELS };
    const int groups = vla_lanes() / tile->channels, per_tile = P * groups;
    small_tile rest = *tile;
    int left = tile->pixels;
    for (rest.pixels = per_tile; left > per_tile; left -= per_tile) {
        VLA_G(conv_pixel_groups)(&rest, P);
        small_tile_skip(&rest, per_tile);
    }
    rest.pixels = left;
    switch ((left + groups - 1) / groups) {
    case 1: VLA_G(conv_pixel_groups)(&rest, 1); break;
    case 2: VLA_G(conv_pixel_groups)(&rest, P > 2 ? 2 : P); break;
    case 3: VLA_G(conv_pixel_groups)(&rest, P > 3 ? 3 : P); break;
    case 4: VLA_G(conv_pixel_groups)(&rest, P > 4 ? 4 : P); break;
    case 5: VLA_G(conv_pixel_groups)(&rest, P > 5 ? 5 : P); break;
    case 6: VLA_G(conv_pixel_groups)(&rest, P > 6 ? 6 : P); break;
    case 7: VLA_G(conv_pixel_groups)(&rest, P > 7 ? 7 : P); break;
    default: VLA_G(conv_pixel_groups)(&rest, P); break;
    }
}
#define VLA_CONV_BODY(t, np, grouped) ((grouped) ? VLA_G(conv_groups)(t, np) : VLA_G(conv_tile)(t, np))
#define VLA_GROUPED(t) (2 * (t)->channels <= vla_lanes())
#else
#define VLA_CONV_BODY(t, np, grouped) VLA_G(conv_tile)(t, np)
#define VLA_GROUPED(t) 0
#endif

/* One compiled body per pixel count, so that a tile computes exactly its pixels (rows of 8 or 16 with
 * a tile of 7: no pixels computed to be thrown away); counts past the tile fold away. A row of more
 * (whole_rows) goes to VLA_G(conv_row), a function of its own: in this one its loop's registers cost
 * every tile a larger frame (RISC-V counts). */
static void VLA_G(conv_row)(const small_tile *tile);
VLA_INLINE void VLA_G(conv_call)(const small_tile *t, const int grouped) {
    enum { P = VLA_GROUP_PIXELS };
    switch (t->pixels) {
    case 1: VLA_CONV_BODY(t, 1, grouped); break;
    case 2: VLA_CONV_BODY(t, P > 2 ? 2 : P, grouped); break;
    case 3: VLA_CONV_BODY(t, P > 3 ? 3 : P, grouped); break;
    case 4: VLA_CONV_BODY(t, P > 4 ? 4 : P, grouped); break;
    case 5: VLA_CONV_BODY(t, P > 5 ? 5 : P, grouped); break;
    case 6: VLA_CONV_BODY(t, P > 6 ? 6 : P, grouped); break;
    case 7: VLA_CONV_BODY(t, P > 7 ? 7 : P, grouped); break;
    default:
        if (t->pixels > P) VLA_G(conv_row)(t);
        else VLA_CONV_BODY(t, P, grouped);
        break;
    }
}

#ifdef vla_group_index
/* A tile of at most half a vector, in pixel groups or in reduction groups: a function of its own, so
 * that the choice costs the other calls nothing (inline, its registers cost every call a store). */
static __attribute__((noinline)) void VLA_G(conv_grouped)(const small_tile *t) {
    if (VLA_G(pixel_groups_pay)(t)) VLA_G(conv_pixel_row)(t);
    else VLA_G(conv_call)(t, 1);
}
#endif

void VLA_FN(VLA_G(conv))(const small_tile *t) {
#ifdef vla_group_index
    if (VLA_GROUPED(t)) {
        VLA_G(conv_grouped)(t);
        return;
    }
#endif
    VLA_G(conv_call)(t, 0);
}

/* Whole tiles of a row, then the rest as a tile. */
static __attribute__((noinline)) void VLA_G(conv_row)(const small_tile *tile) {
    enum { P = VLA_GROUP_PIXELS };
    small_tile rest = *tile; /* one copy, its pixels P for the whole tiles */
    const small_tile *t = &rest;
    int left = tile->pixels;
    for (rest.pixels = P; left > P; left -= P) {
        VLA_CONV_BODY(t, P, VLA_GROUPED(t));
        small_tile_skip(&rest, P);
    }
    rest.pixels = left;
    VLA_FN(VLA_G(conv))(t);
}
#undef VLA_CONV_BODY
#undef VLA_GROUPED
