/* The activation arena: tensors whose lifetimes do not overlap share memory.
 *
 * Greedy placement, in two orders, keeping the smaller arena: largest first (near the lower bound for
 * chain-like graphs), and by first use (better when a large tensor, such as the input, dies early).
 * Each tensor goes to the lowest offset where it overlaps no tensor already placed and alive with it.
 *
 * Only tensors alive together can collide, and in real graphs each is alive with a few others, so the
 * pairs of tensors alive together are listed once (a sweep over their lifetimes) and each placement
 * looks at its own pairs alone, sorted by offset: about n log n for n tensors, where comparing every
 * tensor with every placed one took a crafted model of 65,535 tensors 24 s to load. A graph with more
 * than PAIRS_PER_TENSOR pairs per tensor on average (no real model comes near) gets no sharing at all:
 * every tensor its own memory, in linear time, refused if that passes the limit. */
#include "arena.h"

#include <stdlib.h>

#include "refuse.h"

enum { ALIGN = SMALL_ARENA_ALIGN_FLOATS, PAIRS_PER_TENSOR = 32 };

static uint64_t align_up(uint64_t n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

typedef int (*goes_before_fn)(const void *context, int a, int b);

/* Stable merge sort of a[0..n) by `before`, with n ints of scratch: equal elements keep their order,
 * as the insertion sort this replaced kept them (the layouts, and so the arenas, are unchanged). */
static void sort_stable(int *a, int n, int *scratch, goes_before_fn before, const void *context) {
    for (int width = 1; width < n; width *= 2) {
        for (int lo = 0; lo < n; lo += 2 * width) {
            const int mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            int i = lo, j = mid, k = lo;
            while (i < mid && j < hi) scratch[k++] = before(context, a[j], a[i]) ? a[j++] : a[i++];
            while (i < mid) scratch[k++] = a[i++];
            while (j < hi) scratch[k++] = a[j++];
        }
        for (int i = 0; i < n; ++i) a[i] = scratch[i];
    }
}

static int larger(const void *context, int a, int b) {
    const small_arena_tensor *t = context;
    return small_shape_size(t[a].shape) > small_shape_size(t[b].shape);
}

static int earlier_then_larger(const void *context, int a, int b) {
    const small_arena_tensor *t = context;
    if (t[a].first != t[b].first) return t[a].first < t[b].first;
    return larger(context, a, b);
}

static int earlier(const void *context, int a, int b) {
    const small_arena_tensor *t = context;
    return t[a].first < t[b].first;
}

static int lower_offset(const void *context, int a, int b) {
    const small_arena_tensor *t = context;
    return t[a].offset < t[b].offset;
}

/* The pairs of tensors alive together, as lists: tensor t's are alive[start[t] .. start[t + 1]). */
typedef struct {
    int *start, *alive;
    int *scratch; /* room for the longest list */
} pairs;

/* Sweeps the tensors of `order` by first use, keeping those still alive: each one met is alive with
 * all of them. Counts (fill 0) or records (fill 1) the pairs; returns their count, or -1 past `most`. */
static int64_t sweep(const small_arena_tensor *t, const int *by_first, int n_order, int *active, int64_t most,
                     pairs *p, int fill) {
    int n_active = 0;
    int64_t count = 0;
    for (int i = 0; i < n_order; ++i) {
        const int a = by_first[i];
        int kept = 0;
        for (int k = 0; k < n_active; ++k) {
            const int b = active[k];
            if (t[b].last < t[a].first) continue; /* dead before a is made: never again alive with anyone */
            active[kept++] = b;
            if (fill) p->alive[p->start[a + 1]++] = b, p->alive[p->start[b + 1]++] = a;
            else p->start[a + 1]++, p->start[b + 1]++;
        }
        count += kept;
        if (count > most) return -1;
        n_active = kept;
        active[n_active++] = a;
    }
    return count;
}

/* The lowest aligned offset where `size` floats overlap none of t's partners already placed. */
static uint64_t lowest_free(const small_arena_tensor *t, int a, const pairs *p, const unsigned char *placed,
                            uint64_t size, int *sort_scratch) {
    int n = 0;
    for (int k = p->start[a]; k < p->start[a + 1]; ++k)
        if (placed[p->alive[k]]) p->scratch[n++] = p->alive[k];
    sort_stable(p->scratch, n, sort_scratch, lower_offset, t);
    uint64_t offset = 0;
    for (int k = 0; k < n; ++k) {
        const small_arena_tensor *q = &t[p->scratch[k]];
        if (q->offset >= offset + size) break; /* a gap below q, and every later one starts higher */
        const uint64_t end = q->offset + small_shape_size(q->shape);
        if (end > offset) offset = align_up(end);
    }
    return offset;
}

/* Places `order` greedily; returns the arena's floats (past `limit`: stopped early). */
static uint64_t place(small_arena_tensor *t, const int *order, int n_order, const pairs *p, unsigned char *placed,
                      int *sort_scratch, uint64_t limit) {
    uint64_t arena = 0;
    for (int i = 0; i < n_order && arena <= limit; ++i) {
        const int a = order[i];
        const uint64_t size = align_up(small_shape_size(t[a].shape));
        const uint64_t offset = lowest_free(t, a, p, placed, size, sort_scratch);
        t[a].offset = (size_t)(offset <= limit ? offset : 0); /* <= limit, which fits size_t */
        placed[a] = 1;
        if (offset + size > arena) arena = offset + size;
    }
    return arena;
}

/* The layout for threads (a model loaded while small_get_threads() > 1): each tensor in a slot of its
 * own among the tensors alive with it, placed so that its first h / 2 rows end at the slot's middle.
 * At 2 threads the first takes those rows in every layer (nest.c: row_shares), so each thread reads
 * and writes one half of every slot, lines its own core's cache holds, where the compact layout puts
 * a tensor's second half over memory the other core wrote a few layers before. On 2 cores here that
 * took MobileNet (VWW) 0.85x the time at 2 threads; the arena is larger (slots x the largest tensor).
 * `order` is by first use; a tensor takes the lowest slot its partners placed before it do not hold.
 * Returns the arena's floats. */
static uint64_t first_half_floats(small_shape s) { return (uint64_t)(s.h / 2) * s.w * s.c; }

static int lower_slot(const void *context, int a, int b) {
    const int *slot_of = context;
    return slot_of[a] < slot_of[b];
}

static uint64_t place_centred(small_arena_tensor *t, const int *order, int n_order, const pairs *p, int *slot_of,
                              unsigned char *placed, int *sort_scratch) {
    uint64_t half = 0;
    for (int i = 0; i < n_order; ++i) {
        const small_shape s = t[order[i]].shape;
        const uint64_t mid = first_half_floats(s), size = small_shape_size(s);
        half = mid > half ? mid : half;
        half = size - mid > half ? size - mid : half;
    }
    half = align_up(half) + ALIGN; /* room for rounding an offset down */
    int slots = 0;
    for (int i = 0; i < n_order; ++i) {
        const int a = order[i];
        int n = 0;
        for (int k = p->start[a]; k < p->start[a + 1]; ++k)
            if (placed[p->alive[k]]) p->scratch[n++] = p->alive[k];
        sort_stable(p->scratch, n, sort_scratch, lower_slot, slot_of);
        int k = 0; /* the lowest slot none of them holds */
        for (int x = 0; x < n && slot_of[p->scratch[x]] <= k; ++x)
            if (slot_of[p->scratch[x]] == k) ++k;
        slot_of[a] = k;
        placed[a] = 1;
        slots = k + 1 > slots ? k + 1 : slots;
        const uint64_t start = (uint64_t)k * 2 * half + half - first_half_floats(t[a].shape);
        t[a].offset = (size_t)(start / ALIGN * ALIGN);
    }
    return (uint64_t)slots * 2 * half;
}

/* No sharing: each tensor after the one before, for graphs of too many pairs. */
static uint64_t place_apart(small_arena_tensor *t, const int *order, int n_order, uint64_t limit) {
    uint64_t arena = 0;
    for (int i = 0; i < n_order && arena <= limit; ++i) {
        t[order[i]].offset = (size_t)arena;
        arena += align_up(small_shape_size(t[order[i]].shape));
    }
    return arena;
}

small_status small_arena_place(small_arena_tensor *t, int n, int centred, uint64_t limit, uint64_t *floats,
                               small_message *why) {
    int *order = malloc((size_t)n * sizeof(int)), *by_first = malloc((size_t)n * sizeof(int));
    int *scratch = malloc((size_t)n * sizeof(int)), *slot_of = malloc((size_t)n * sizeof(int));
    pairs p = {calloc((size_t)n + 1, sizeof(int)), NULL, NULL};
    unsigned char *placed = calloc((size_t)n, 1);
    size_t *kept = malloc((size_t)n * sizeof(size_t));
    small_status status = SMALL_OK;
    uint64_t arena = UINT64_MAX;
    if (!order || !by_first || !scratch || !slot_of || !p.start || !placed || !kept) {
        status = small_refuse(why, SMALL_ERR_NOMEM, "out of memory");
        goto done;
    }
    int n_order = 0;
    for (int i = 0; i < n; ++i)
        if (t[i].first >= 0 && t[i].alias < 0) order[n_order] = by_first[n_order] = i, ++n_order;
    sort_stable(by_first, n_order, scratch, earlier, t);
    const int64_t most = (int64_t)PAIRS_PER_TENSOR * n_order;
    const int64_t n_pairs = sweep(t, by_first, n_order, scratch, most, &p, 0);
    if (n_pairs < 0) { /* too many to list: no sharing */
        arena = place_apart(t, order, n_order, limit);
    } else {
        int longest = 0;
        for (int i = 0; i < n; ++i) { /* counts to starts */
            longest = p.start[i + 1] > longest ? p.start[i + 1] : longest;
            p.start[i + 1] += p.start[i];
        }
        p.alive = malloc((size_t)(2 * n_pairs + 1) * sizeof(int));
        p.scratch = malloc(((size_t)longest + 1) * sizeof(int));
        int *sort_scratch = malloc(((size_t)longest + 1) * sizeof(int));
        if (!p.alive || !p.scratch || !sort_scratch) {
            free(sort_scratch);
            status = small_refuse(why, SMALL_ERR_NOMEM, "out of memory");
            goto done;
        }
        /* Fill: each list's end grows from its start, so the starts shift by one tensor and back. */
        for (int i = n; i > 0; --i) p.start[i] = p.start[i - 1];
        p.start[0] = 0;
        sweep(t, by_first, n_order, scratch, most, &p, 1);
        for (int by_first_use = 0; by_first_use < 2; ++by_first_use) {
            sort_stable(order, n_order, scratch, by_first_use ? earlier_then_larger : larger, t);
            for (int i = 0; i < n; ++i) placed[i] = 0;
            const uint64_t got = place(t, order, n_order, &p, placed, sort_scratch, limit);
            if (got < arena) {
                arena = got;
                for (int i = 0; i < n; ++i) kept[i] = t[i].offset;
            }
        }
        /* Threads: the centred layout, where it fits the limit (`order` is by first use now). */
        if (centred && arena <= limit) {
            for (int i = 0; i < n; ++i) placed[i] = 0;
            const uint64_t got = place_centred(t, order, n_order, &p, slot_of, placed, sort_scratch);
            if (got <= limit) {
                arena = got;
                for (int i = 0; i < n; ++i) kept[i] = t[i].offset;
            }
        }
        for (int i = 0; i < n; ++i) t[i].offset = kept[i];
        free(sort_scratch);
    }
    for (int i = 0; i < n; ++i)
        if (t[i].alias >= 0) t[i].offset = t[t[i].alias].offset;
    if (arena > limit)
        status = small_refuse(why, SMALL_ERR_NOMEM, "an arena of at least %llu bytes: more than the limit of %llu "
                        "(small_set_limits)", (unsigned long long)arena * sizeof(float),
                        (unsigned long long)limit * sizeof(float));
done:
    *floats = arena;
    free(order), free(by_first), free(scratch), free(slot_of), free(p.start), free(p.alive), free(p.scratch);
    free(placed), free(kept);
    return status;
}
