/* libFuzzer target: the public layer API on descriptors made of boundary values. Every field of every op
 * takes small values, the boundaries of int (0, -1, INT_MAX, INT_MIN, INT_MAX / 2 ...) or raw bits; the
 * kernel table is any this CPU runs, at 1 or 2 threads. What plans is run on inputs made of the rest of
 * the bytes (any float: NaN and Inf too), where small enough, and planned again from its own packed
 * weights (small_layer_plan_packed), which must give the same kernel and, to the bit, the same output
 * (a NaN's bits apart), and refuse a region four bytes short. Nothing may crash, read or write out of bounds, or trip UBSan.
 * Built natively with ASan and UBSan by `invoke fuzz` (CMake: -DSMALL_FUZZ=ON). Its input is a fixed
 * sequence of 32-bit words (small_harness/ci/fuzzing.py: layer_seeds writes it), then the floats. */
#include <limits.h>
#include <stdio.h>

#include "fuzz_common.h"

enum { MAX_WEIGHTS = 1 << 20, MAX_FLOATS = 1 << 18, MAX_MACS = 4 * 1000 * 1000 };

static const int32_t BOUNDARY[] = {0, 1, 2, 3, 4, 7, 8, 15, 16, 17, 33, 64, -1, -2, INT_MAX, INT_MIN, INT_MAX / 2,
                                   INT_MAX / 2 + 1, INT_MAX / 4, 1 << 16, 1 << 26, 1 << 30, 46341 /* > sqrt(2^31) */};

typedef struct {
    const uint8_t *p;
    size_t n;
} bytes;

static uint32_t take(bytes *b) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
        if (b->n) v |= (uint32_t)*b->p++ << (8 * i), --b->n;
    return v;
}

/* A field's value: mostly small, else a boundary, else raw bits. */
static int32_t value(bytes *b) {
    const uint32_t r = take(b);
    switch (r & 3) {
    case 0:
    case 1: return (int32_t)((r >> 2) % 20);
    case 2: return BOUNDARY[(r >> 2) % (sizeof BOUNDARY / sizeof BOUNDARY[0])];
    default: return (int32_t)r;
    }
}

static small_shape shape(bytes *b) {
    small_shape s;
    s.h = value(b), s.w = value(b), s.c = value(b);
    return s;
}

static small_layer_desc descriptor(bytes *b) {
    small_layer_desc d = small_layer_desc_default((small_op)(take(b) % (SMALL_OP_COUNT_ + 1)));
    d.n_inputs = (int)(take(b) % (SMALL_MAX_INPUTS + 2));
    for (int i = 0; i < SMALL_MAX_INPUTS; ++i) d.inputs[i] = shape(b);
    if (take(b) & 1) d.inputs[1] = d.inputs[0]; /* ADD needs equal shapes: often give them */
    d.out_channels = value(b);
    const uint32_t depthwise = take(b);
    d.groups = value(b);
    if (depthwise & 1) d.groups = d.out_channels = d.inputs[0].c; /* often */
    d.kernel_h = value(b), d.kernel_w = value(b);
    d.stride_h = value(b), d.stride_w = value(b);
    d.dilation_h = value(b), d.dilation_w = value(b);
    d.padding = (small_padding)(take(b) % 4);
    d.pad_top = value(b), d.pad_bottom = value(b), d.pad_left = value(b), d.pad_right = value(b);
    d.activation = (small_activation)(take(b) % 5);
    const uint32_t alpha = take(b);
    memcpy(&d.alpha, &alpha, 4);
    d.reshape_to = shape(b);
    return d;
}

/* n floats made of the remaining bytes (repeated; zeros when none are left). */
static float *floats(bytes *b, size_t n) {
    float *f = aligned_alloc(64, (n * sizeof(float) + 64) / 64 * 64);
    if (!f) return NULL;
    for (size_t i = 0; i < n; ++i) {
        uint32_t bits = 0;
        if (b->n) memcpy(&bits, b->p + (4 * i) % (b->n >= 4 ? b->n - 3 : 1), b->n >= 4 ? 4 : b->n);
        memcpy(&f[i], &bits, 4);
    }
    return f;
}

/* The kernel tables this CPU runs, and one of them chosen. */
static void choose_table(bytes *b) {
    char names[16][32];
    int n = 0;
    for (const char *word = small_kernel_isas(); *word && n < 16;) {
        const size_t length = strcspn(word, " ");
        snprintf(names[n], sizeof names[n], "%.*s", (int)length, word);
        if (small_isa_supported(names[n]) == 1) ++n;
        word += length + (word[length] == ' ');
    }
    if (n && small_select_kernels(names[take(b) % (unsigned)n], NULL) != SMALL_OK) abort();
}

/* The same outputs: every value to the bit, but a NaN as any NaN. Which NaN's bits a result keeps where
 * two meet (x86 returns its first NaN operand) depends on the operand order the compiler chose for that
 * tile shape, and at 2 threads a border column's tiles follow the threads' claims: the payloads are no
 * part of the semantics (docs/RELIABILITY.md). */
static int same_outputs(const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (memcmp(&a[i], &b[i], sizeof(float)) && !(a[i] != a[i] && b[i] != b[i])) return 0;
    return 1;
}

static void fail(const char *what, const small_layer *layer) {
    fprintf(stderr, "fuzz_layer: %s (%s)\n", what, small_layer_kernel_name(layer));
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_set_limits();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bytes b = {data, size};
    choose_table(&b);
    const int threads = 1 + (int)(take(&b) % 2);
    if (small_get_threads() != threads && small_set_threads(threads) != SMALL_OK) abort();
    const small_layer_desc d = descriptor(&b);
    const int with_bias = take(&b) & 1;
    const size_t n_weights = small_layer_weight_count(&d), n_bias = small_layer_bias_count(&d);
    /* A descriptor that needs more weights than are made here plans without them: its checks run up to
     * the weights, which are then NULL (the API reads small_layer_weight_count floats of them). */
    float *weights = n_weights && n_weights <= MAX_WEIGHTS ? floats(&b, n_weights) : NULL;
    float *bias = with_bias && n_bias && n_bias <= MAX_WEIGHTS ? floats(&b, n_bias) : NULL;
    small_layer layer;
    if (small_layer_plan(&layer, &d, weights, bias) != SMALL_OK) {
        if (!layer.message[0]) fail("a refused plan without a reason", &layer);
        free(weights), free(bias);
        return 0;
    }
    size_t in_floats = 0;
    for (int i = 0; i < d.n_inputs; ++i) in_floats += small_shape_size(d.inputs[i]);
    const size_t out_floats = small_shape_size(layer.output);
    if (in_floats <= MAX_FLOATS && out_floats <= MAX_FLOATS && fuzz_layer_macs(&layer) <= MAX_MACS) {
        float *inputs[SMALL_MAX_INPUTS] = {0};
        for (int i = 0; i < d.n_inputs; ++i) inputs[i] = floats(&b, small_shape_size(d.inputs[i]));
        float *y = malloc(out_floats * sizeof(float)), *y2 = malloc(out_floats * sizeof(float));
        if (small_layer_run(&layer, (const float *const *)inputs, y) != SMALL_OK) fail("a planned layer did not run", &layer);
        if (layer.packed) { /* the same layer from its own packed weights, read in place */
            float *copy = aligned_alloc(64, (layer.packed_bytes + 63) / 64 * 64);
            memcpy(copy, layer.packed, layer.packed_bytes);
            small_layer again, short_one;
            if (small_layer_plan_packed(&again, &d, copy, layer.packed_bytes, layer.bias != NULL) != SMALL_OK ||
                strcmp(small_layer_kernel_name(&again), small_layer_kernel_name(&layer)))
                fail("its own packed weights did not plan the same kernel", &layer);
            if (small_layer_run(&again, (const float *const *)inputs, y2) != SMALL_OK ||
                !same_outputs(y, y2, out_floats))
                fail("its own packed weights gave another output", &layer);
            if (small_layer_plan_packed(&short_one, &d, copy, layer.packed_bytes - 4, layer.bias != NULL) != SMALL_ERR_FORMAT)
                fail("a packed region four bytes short was not refused", &layer);
            small_layer_release(&again);
            small_layer_release(&short_one);
            free(copy);
        }
        for (int i = 0; i < d.n_inputs; ++i) free(inputs[i]);
        free(y), free(y2);
    }
    small_layer_release(&layer);
    free(weights), free(bias);
    return 0;
}
