/* Models: load from a memory buffer, plan one activation arena, run inferences without allocating.
 *
 * model_file.c reads the file (its layout is documented in model_file.h); here every layer of every
 * format version goes through the same steps: its tensors are connected into the graph (connect), it
 * is planned from its weights or from its pre-packed region (plan_layer), and the plan is checked
 * against the file (check_planned: one set of checks for every format). Then the arena (arena.c). */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "model_file.h"
#include "lower.h"
#include "refuse.h"
#include "small.h"
#include "threads.h"

/* Layer i's run as small_model_run needs it, worked out at load (see prepared_layer.h). */
typedef struct {
    small_prepared_layer prepared;
    const small_layer *layer;
    int in_place;                          /* a reshape in place: nothing to run */
    int n_inputs;
    const float *inputs[SMALL_MAX_INPUTS]; /* in the arena, or NULL: the caller's input */
    float *output;
} layer_step;

struct small_model {
    int n_tensors, n_layers, input, output;
    small_arena_tensor *tensors;
    small_layer *layers;
    int (*layer_io)[SMALL_MAX_INPUTS + 1]; /* per layer: input tensors, then the output tensor */
    layer_step *steps;
    float *arena;
    size_t arena_floats;
    float *caller_arena;        /* small_model_load_with_arena's buffer (not freed), or NULL */
    size_t caller_arena_bytes;
    atomic_int busy;            /* a run is in flight: another caller's is refused (SMALL_ERR_BUSY) */
};

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
/* A big-endian host plans from a copy of the layer's floats in its own order; a little-endian one
 * reads them where they are (a model in flash stays there). */
static const float *host_floats(const float *little_endian, size_t n, float **copy) {
    *copy = NULL;
    if (!little_endian || !n) return little_endian;
    if (!(*copy = malloc(n * sizeof(float)))) return NULL;
    for (size_t i = 0; i < n; ++i) {
        const int32_t bits = small_file_word((const unsigned char *)little_endian, i);
        memcpy(&(*copy)[i], &bits, 4);
    }
    return *copy;
}
#else
static const float *host_floats(const float *little_endian, size_t n, float **copy) {
    (void)n;
    *copy = NULL;
    return little_endian;
}
#endif

/* Layer i's place in the graph: its inputs exist already (the model input, or a tensor an earlier
 * layer wrote), its output is new. */
static small_status connect(small_model *m, int i, const small_file_layer *fl, small_message *why) {
    for (int k = 0; k < fl->desc.n_inputs; ++k) {
        const int t = fl->inputs[k];
        if (t != m->input && m->tensors[t].first < 0)
            return small_refuse(why, SMALL_ERR_FORMAT, "layer %d reads tensor %d before it exists", i, t);
        m->tensors[t].last = i;
        m->layer_io[i][k] = t;
    }
    const int out = fl->output;
    if (out == m->input || m->tensors[out].first >= 0)
        return small_refuse(why, SMALL_ERR_FORMAT, "layer %d writes tensor %d, which is not a new tensor", i, out);
    m->tensors[out].first = m->tensors[out].last = i;
    m->layer_io[i][SMALL_MAX_INPUTS] = out;
    return SMALL_OK;
}

/* Plans layer i from its weights in the file, or from its pre-packed region read in place. */
static small_status plan_layer(small_model *m, int i, const small_file_layer *fl, small_message *why) {
    small_layer *l = &m->layers[i];
    small_status s;
    if (fl->region) {
        s = small_layer_plan_packed(l, &fl->desc, fl->region, fl->region_bytes, fl->region_has_bias);
    } else {
        float *weights_copy, *bias_copy;
        const float *weights = host_floats(fl->weights, fl->n_weights, &weights_copy);
        const float *bias = host_floats(fl->bias, fl->n_bias, &bias_copy);
        s = small_layer_plan(l, &fl->desc, weights, bias);
        free(weights_copy);
        free(bias_copy);
    }
    if (s != SMALL_OK && why) snprintf(why->text, sizeof why->text, "layer %d: %s", i, l->message);
    return s;
}

/* The checks of a planned layer against its file, the same for every format version: it computes its
 * output tensor's shape (the arena is planned from the tensors, and a layer writes what it computes),
 * and a pre-packed layer's kernel and tiles are those it was packed for. */
static small_status check_planned(const small_model *m, int i, const small_file_layer *fl, int packed,
                                  small_message *why) {
    const small_layer *l = &m->layers[i];
    const small_shape got = l->output, want = m->tensors[fl->output].shape;
    if (got.h != want.h || got.w != want.w || got.c != want.c)
        return small_refuse(why, SMALL_ERR_FORMAT, "layer %d computes %dx%dx%d, but its output tensor %d is %dx%dx%d", i,
                      got.h, got.w, got.c, fl->output, want.h, want.w, want.c);
    if (packed && (strcmp(fl->kernel, small_layer_kernel_name(l)) || fl->pixel_tile != l->pixel_tile ||
                   fl->channel_tile != l->channel_tile))
        return small_refuse(why, SMALL_ERR_FORMAT, "layer %d was packed for %.48s (%dx%d); this build runs %s (%dx%d): "
                      "pack the model again with this build", i, fl->kernel, fl->pixel_tile, fl->channel_tile,
                      small_layer_kernel_name(l), l->pixel_tile, l->channel_tile);
    return SMALL_OK;
}

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

static small_status plan_arena(small_model *m, small_message *why) {
    const small_limits limits = small_get_limits();
    /* Threads: the centred layout (arena.c), where it fits. A caller's arena keeps the compact one,
     * which the caller sized it for. */
    const int centred = small_get_threads() > 1 && !m->caller_arena;
    uint64_t arena;
    const small_status s =
        small_arena_place(m->tensors, m->n_tensors, centred, limits.max_arena_bytes / sizeof(float), &arena, why);
    if (s != SMALL_OK) return s;
    m->arena_floats = (size_t)arena;
    if (m->caller_arena) {
        if (m->arena_floats * sizeof(float) > m->caller_arena_bytes)
            return small_refuse(why, SMALL_ERR_NOMEM, "the arena needs %zu bytes; the buffer given has %zu",
                          m->arena_floats * sizeof(float), m->caller_arena_bytes);
        m->arena = m->caller_arena;
        return SMALL_OK;
    }
    const size_t floats = round_up(m->arena_floats ? m->arena_floats : 1, SMALL_ARENA_ALIGN_FLOATS);
    m->arena = aligned_alloc(SMALL_ARENA_ALIGN_FLOATS * sizeof(float), floats * sizeof(float));
    return m->arena ? SMALL_OK : small_refuse(why, SMALL_ERR_NOMEM, "cannot allocate an arena of %zu bytes",
                                        m->arena_floats * sizeof(float));
}

static small_status prepare_steps(small_model *m, small_message *why) {
    m->steps = calloc((size_t)m->n_layers, sizeof *m->steps);
    if (!m->steps) return small_refuse(why, SMALL_ERR_NOMEM, "out of memory");
    for (int i = 0; i < m->n_layers; ++i) {
        layer_step *s = &m->steps[i];
        s->layer = &m->layers[i];
        s->in_place = m->tensors[m->layer_io[i][SMALL_MAX_INPUTS]].alias >= 0;
        s->n_inputs = s->layer->desc.n_inputs;
        for (int k = 0; k < s->n_inputs; ++k) {
            const int t = m->layer_io[i][k];
            s->inputs[k] = t == m->input ? NULL : m->arena + m->tensors[t].offset;
        }
        s->output = m->arena + m->tensors[m->layer_io[i][SMALL_MAX_INPUTS]].offset;
        if (!s->in_place) small_prepare_layer(s->layer, &s->prepared);
    }
    return SMALL_OK;
}

static small_status load(small_model *m, const void *data, size_t size, small_message *why) {
    small_file f;
    small_status s = small_file_open(&f, data, size, why);
    if (s != SMALL_OK) return s;
    m->n_tensors = f.n_tensors;
    m->n_layers = f.n_layers;
    m->input = f.input;
    m->output = f.output;
    m->tensors = calloc((size_t)m->n_tensors, sizeof *m->tensors);
    m->layers = calloc((size_t)m->n_layers, sizeof *m->layers);
    m->layer_io = calloc((size_t)m->n_layers, sizeof *m->layer_io);
    if (!m->tensors || !m->layers || !m->layer_io) return small_refuse(why, SMALL_ERR_NOMEM, "out of memory");
    for (int t = 0; t < m->n_tensors; ++t) {
        m->tensors[t].shape = small_file_tensor_shape(&f, t);
        m->tensors[t].first = m->tensors[t].last = m->tensors[t].alias = -1;
    }
    for (int i = 0; i < m->n_layers; ++i) {
        small_file_layer fl;
        if ((s = small_file_layer_read(&f, i, &fl, why)) || (s = connect(m, i, &fl, why)) ||
            (s = plan_layer(m, i, &fl, why)) || (s = check_planned(m, i, &fl, f.packed, why)))
            return s;
    }
    if (m->tensors[m->output].first < 0)
        return small_refuse(why, SMALL_ERR_FORMAT, "no layer produces the output tensor %d", m->output);
    m->tensors[m->output].last = m->n_layers; /* alive until copied out */
    /* A reshape of an arena tensor moves nothing (HWC data is already in order): its output is the
     * same memory, kept alive as long as either is read, and the layer does not run. */
    for (int i = 0; i < m->n_layers; ++i) {
        const int in = m->layer_io[i][0], out = m->layer_io[i][SMALL_MAX_INPUTS];
        if (m->layers[i].desc.op != SMALL_OP_RESHAPE || in == m->input) continue;
        const int root = m->tensors[in].alias >= 0 ? m->tensors[in].alias : in;
        m->tensors[out].alias = root;
        if (m->tensors[out].last > m->tensors[root].last) m->tensors[root].last = m->tensors[out].last;
    }
    /* The input has a place in the arena too, alive until its last reader, so that a caller short of
     * memory can write it there (small_model_input_buffer); a run may still read it elsewhere. */
    m->tensors[m->input].first = 0;
    size_t weight_bytes = 0; /* packed copies: a pre-packed file's are read in place */
    for (int i = 0; i < m->n_layers; ++i)
        if (!m->layers[i].packed_borrowed) weight_bytes += m->layers[i].packed_bytes; /* each <= the limit */
    if (weight_bytes > small_get_limits().max_weight_bytes)
        return small_refuse(why, SMALL_ERR_NOMEM, "%zu bytes of packed weights: more than the limit of %zu (small_set_limits)",
                      weight_bytes, small_get_limits().max_weight_bytes);
    s = plan_arena(m, why);
    return s == SMALL_OK ? prepare_steps(m, why) : s;
}

small_status small_model_load(small_model **model, const void *data, size_t size, small_message *why) {
    return small_model_load_with_arena(model, data, size, NULL, 0, why);
}

small_status small_model_load_with_arena(small_model **model, const void *data, size_t size, void *arena,
                                         size_t arena_bytes, small_message *why) {
    if (why) why->text[0] = '\0';
    if (!model || !data) return small_refuse(why, SMALL_ERR_NULL, "model or data is NULL");
    *model = NULL;
    if ((uintptr_t)data % 4) return small_refuse(why, SMALL_ERR_FORMAT, "model buffer is not 4-byte aligned");
    if ((uintptr_t)arena % sizeof(float)) return small_refuse(why, SMALL_ERR_PARAM, "arena buffer is not 4-byte aligned");
    small_model *m = calloc(1, sizeof *m);
    if (!m) return small_refuse(why, SMALL_ERR_NOMEM, "out of memory");
    atomic_init(&m->busy, 0);
    m->caller_arena = arena;
    m->caller_arena_bytes = arena ? arena_bytes : 0;
    small_status s = load(m, data, size, why);
    if (s != SMALL_OK) {
        small_model_free(m);
        return s;
    }
    *model = m;
    return SMALL_OK;
}

/* Not inlined, and the asm statement is a side effect the compiler must keep, so each call stays a
 * call to this symbol: what the counting plugin looks for. */
__attribute__((noinline)) void small_count_layer(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) void small_count_end(void) { __asm__ volatile("" ::: "memory"); }

small_status small_model_write_packed(const small_model *m, const void *original, size_t size, void *out,
                                      size_t *out_size) {
    if (!m || !original || !out_size) return SMALL_ERR_NULL;
    return small_file_write_packed(m->layers, m->n_layers, m->n_tensors, original, size, out, out_size);
}

small_status small_model_run(small_model *m, const float *input, float *output) {
    if (!m || !input || !output) return SMALL_ERR_NULL;
    /* One run of a model at a time: its arena holds this run's tensors. */
    if (atomic_exchange_explicit(&m->busy, 1, memory_order_acquire)) return SMALL_ERR_BUSY;
    const int threads = small_pool_enter();
    for (int i = 0; i < m->n_layers; ++i) {
        small_count_layer(); /* every layer, a reshape in place too: count i belongs to layer i */
        const layer_step *s = &m->steps[i];
        if (s->in_place) continue;
        const float *inputs[SMALL_MAX_INPUTS];
        for (int k = 0; k < s->n_inputs; ++k) inputs[k] = s->inputs[k] ? s->inputs[k] : input;
        small_run_prepared(s->layer, &s->prepared, inputs, s->output, threads);
    }
    small_count_end(); /* the output copy below is the caller's, not a layer's */
    small_pool_leave(threads);
    const small_arena_tensor *out = &m->tensors[m->output];
    if (output != m->arena + out->offset) memcpy(output, m->arena + out->offset, small_shape_size(out->shape) * sizeof(float));
    atomic_store_explicit(&m->busy, 0, memory_order_release);
    return SMALL_OK;
}

float *small_model_input_buffer(small_model *m) { return m ? m->arena + m->tensors[m->input].offset : NULL; }
float *small_model_output_buffer(small_model *m) {
    return m ? m->arena + m->tensors[m->output].offset : NULL;
}

small_shape small_model_input_shape(const small_model *m) { return m ? m->tensors[m->input].shape : (small_shape){0, 0, 0}; }
small_shape small_model_output_shape(const small_model *m) {
    return m ? m->tensors[m->output].shape : (small_shape){0, 0, 0};
}
size_t small_model_arena_bytes(const small_model *m) { return m ? m->arena_floats * sizeof(float) : 0; }
int small_model_layer_count(const small_model *m) { return m ? m->n_layers : 0; }
const small_layer *small_model_layer(const small_model *m, int i) {
    return m && i >= 0 && i < m->n_layers ? &m->layers[i] : NULL;
}

void small_model_free(small_model *m) {
    if (!m) return;
    for (int i = 0; m->layers && i < m->n_layers; ++i) small_layer_release(&m->layers[i]);
    if (m->arena != m->caller_arena) free(m->arena);
    free(m->tensors), free(m->layers), free(m->layer_io), free(m->steps), free(m);
}
