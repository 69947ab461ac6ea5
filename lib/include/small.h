/* small.h: the public C API of the SMaLL-style layer library.
 *
 * Every layer is planned once and executed many times:
 *   small_layer L;
 *   small_status s = small_layer_plan(&L, &desc, weights, bias);   // validates, packs weights
 *   s = small_layer_run(&L, inputs, output);                       // allocates nothing
 *   small_layer_release(&L);
 *
 * Tensors are float32, batch 1, in one layout for every layer: HWC (NHWC with N = 1), channels
 * innermost and contiguous. No function aborts on bad input: each returns a small_status, and a
 * failed plan leaves a one-line reason in L.message.
 *
 * Threads (the contract; tests/c/concurrency.c checks it, under ThreadSanitizer in CI):
 * - Different models, and different layers, may run from different threads at the same time, at any
 *   small_set_threads count. At 1 thread each run stays on its caller and they run side by side; above
 *   1 the worker pool serves one run at a time, and the others wait for it (small_model_run and
 *   small_layer_run return when their own run is done).
 * - One model runs one inference at a time: a second small_model_run of the same model while the first
 *   is in flight returns SMALL_ERR_BUSY at once and touches nothing (its arena is the first run's).
 *   One planned layer may be run by several threads at once (it is only read).
 * - small_set_threads may be called at any time, from any thread: it waits for a run on the pool to end.
 * - Loading and planning may happen in several threads at once. small_select_kernels and
 *   small_set_limits configure what later loads and plans get: call them before those start.
 * - A model must not be freed while it runs, nor a layer released; the caller's buffers are the
 *   caller's to keep apart.
 */
#ifndef SMALL_H
#define SMALL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    SMALL_OK = 0,
    SMALL_ERR_NULL = 1,        /* a required pointer is NULL */
    SMALL_ERR_SHAPE = 2,       /* a shape is empty, negative or inconsistent with another */
    SMALL_ERR_PARAM = 3,       /* a parameter is out of range (stride 0, unknown padding ...) */
    SMALL_ERR_NOMEM = 4,       /* plan could not allocate the packed weights */
    SMALL_ERR_UNSUPPORTED = 5, /* valid, but not something this library does */
    SMALL_ERR_FORMAT = 6,      /* a serialized model or message is malformed */
    SMALL_ERR_BUSY = 7         /* the model is running an inference for another caller */
} small_status;

/* A short stable name for a status, e.g. "SMALL_ERR_SHAPE". */
const char *small_status_name(small_status status);

typedef struct {
    int h, w, c;
} small_shape;

/* A one-line reason, where an entry point has more to say than its status. */
typedef struct {
    char text[160];
} small_message;

typedef enum {
    SMALL_OP_CONV2D = 0,         /* conv with groups; depthwise is groups == in.c == out_channels */
    SMALL_OP_MAXPOOL = 1,
    SMALL_OP_AVGPOOL = 2,        /* padding excluded from the count, as TFLite does */
    SMALL_OP_GLOBAL_AVGPOOL = 3, /* H x W x C -> 1 x 1 x C */
    SMALL_OP_FULLY_CONNECTED = 4,/* flattens H x W x C to K, weights [out][K] -> 1 x 1 x out */
    SMALL_OP_ADD = 5,            /* element-wise, two inputs of the same shape */
    SMALL_OP_ACTIVATION = 6,     /* standalone activation (the epilogue alone) */
    SMALL_OP_SOFTMAX = 7,        /* over channels, per pixel; numerically stable */
    SMALL_OP_CONCAT = 8,         /* along channels; inputs share H and W */
    SMALL_OP_RESHAPE = 9,        /* same data, new shape of equal size (a copy, HWC order) */
    SMALL_OP_COUNT_ = 10
} small_op;

typedef enum {
    SMALL_PAD_VALID = 0,    /* no padding */
    SMALL_PAD_SAME = 1,     /* TFLite SAME: out = ceil(in / stride), extra padding at the end */
    SMALL_PAD_EXPLICIT = 2  /* pad_top, pad_bottom, pad_left, pad_right as given */
} small_padding;

typedef enum {
    SMALL_ACT_NONE = 0,
    SMALL_ACT_RELU = 1,
    SMALL_ACT_RELU6 = 2,
    SMALL_ACT_LEAKY_RELU = 3, /* x < 0 ? alpha * x : x */
    SMALL_ACT_RELU_N1_TO_1 = 4 /* clamp to [-1, 1]: int8 layers only (small_layer_plan_s8) */
} small_activation;

#define SMALL_MAX_INPUTS 8

/* One descriptor for every op; each op reads only the fields it needs (see small_layer_plan). */
typedef struct {
    small_op op;
    int n_inputs;                          /* 1; 2 for ADD; 1..SMALL_MAX_INPUTS for CONCAT */
    small_shape inputs[SMALL_MAX_INPUTS];
    /* CONV2D, FULLY_CONNECTED */
    int out_channels;
    int groups;                            /* CONV2D: divides in.c and out_channels */
    /* CONV2D, MAXPOOL, AVGPOOL: the window */
    int kernel_h, kernel_w;
    int stride_h, stride_w;
    int dilation_h, dilation_w;            /* CONV2D only; pools use 1 */
    small_padding padding;
    int pad_top, pad_bottom, pad_left, pad_right; /* SMALL_PAD_EXPLICIT only */
    /* epilogue of CONV2D, FULLY_CONNECTED, ADD, ACTIVATION (and pools, for fused models) */
    small_activation activation;
    float alpha;                           /* LEAKY_RELU slope */
    /* RESHAPE */
    small_shape reshape_to;
} small_layer_desc;

/* A descriptor with every field at its neutral value: 1 input, stride 1, dilation 1, 1 group,
 * VALID padding, no activation. Fill in what the op needs. */
small_layer_desc small_layer_desc_default(small_op op);

/* Which kernel serves a layer, e.g. "f32-conv-4x8-ref". Static storage. */
typedef struct small_kernel_info small_kernel_info;

typedef struct {
    small_layer_desc desc;
    small_shape output;
    /* resolved window geometry (CONV2D and pools) */
    int pad_top, pad_left;
    /* packed weights then bias, one allocation owned by the layer (NULL for ops without weights), or
     * the caller's when packed_borrowed (small_layer_plan_packed: a pre-packed model in flash) */
    float *packed;
    size_t packed_bytes;
    const float *bias; /* inside packed, or NULL */
    /* inside packed, after the bias: the 3x3 weights transformed for Winograd F(2x2, 3x3), where the
     * layer is computed so (docs/DESIGN.md, "Winograd"); else NULL */
    const float *winograd_weights;
    int packed_borrowed;
    const small_kernel_info *kernel;
    int pixel_tile, channel_tile; /* the kernel's tile on this CPU (weights are packed for it) */
    char message[128]; /* why plan failed, or "" */
} small_layer;

/* Validates desc and plans the layer: resolves padding and the output shape, packs weights for
 * the kernels of this build. Weights: CONV2D [out][kh][kw][in/groups] (OHWI, as TFLite),
 * FULLY_CONNECTED [out][K]. bias may be NULL (zero). On failure returns the error, sets
 * layer->message, and leaves nothing allocated. */
small_status small_layer_plan(small_layer *layer, const small_layer_desc *desc, const float *weights,
                              const float *bias);

/* Plans a layer whose weights this build packed already (small_model_write_packed): `packed` holds
 * packed_bytes bytes, the packed weights then the bias when has_bias, exactly as small_layer_plan
 * would have made them for the kernel this build chooses, in this build's byte order. The layer
 * reads them in place (nothing is copied; they must outlive it). A size that differs from what this
 * build packs is SMALL_ERR_FORMAT: the caller also compares the kernel (small_layer_kernel_name). */
small_status small_layer_plan_packed(small_layer *layer, const small_layer_desc *desc, const float *packed,
                                     size_t packed_bytes, int has_bias);

/* Runs a planned layer: inputs[0 .. n_inputs-1] of the planned shapes, output of layer->output.
 * Allocates nothing; input and output must not overlap. */
small_status small_layer_run(const small_layer *layer, const float *const *inputs, float *output);

/* Limits on what a plan or a model load may allocate, for every layer and model planned from now on.
 * A descriptor or a model file that would need more is refused with SMALL_ERR_NOMEM, naming the sizes,
 * before anything is allocated: a crafted kilobyte cannot make the library reserve gigabytes. */
typedef struct {
    size_t max_weight_bytes; /* packed weights and bias of one layer, and of all the layers of a model */
    size_t max_arena_bytes;  /* a model's activation arena */
} small_limits;
#define SMALL_DEFAULT_MAX_WEIGHT_BYTES ((size_t)256 << 20)
#define SMALL_DEFAULT_MAX_ARENA_BYTES ((size_t)256 << 20)
void small_set_limits(const small_limits *limits);
small_limits small_get_limits(void);

/* Threads that run each layer: 1 (the default) to SMALL_MAX_THREADS. The nest cuts a layer's work
 * into units fixed by the layer alone (output rows, or channel blocks), so outputs are bit-identical
 * for every count; small layers run on the caller alone. Safe at any time: waits for a run that uses
 * the pool to end (see "Threads" at the top). SMALL_ERR_PARAM outside the range, or above 1 in builds
 * without threads (SMALL_NO_THREADS, bare metal); SMALL_ERR_NOMEM if a thread cannot be started
 * (those started are kept). */
#define SMALL_MAX_THREADS 64
small_status small_set_threads(int threads);
int small_get_threads(void);

/* ---- int8 layers --------------------------------------------------------------------------------
 * TFLite's quantization spec, bit-exact with LiteRT's reference kernels (tests/reference_int8.py):
 * real = scale * (q - zero_point) for activations; weights symmetric (zero point 0), one scale per
 * output channel or one for all; bias int32 at scale input_scale * weight_scale. CONV2D (grouped and
 * depthwise as for float) requantizes per channel with a fixed-point multiplier and shift computed at
 * plan time (QuantizeMultiplier of (double)input_scale * weight_scale / output_scale); FULLY_CONNECTED
 * requantizes in double, as LiteRT 2.3.0's reference kernel does. Activations: NONE, RELU, RELU6,
 * RELU_N1_TO_1 (a clamp of the int8 output). A layer planned here runs only through small_layer_run_s8,
 * and a float one only through small_layer_run. */
typedef struct {
    float input_scale;
    int input_zero_point;        /* -128 .. 127 */
    float output_scale;
    int output_zero_point;       /* -128 .. 127 */
    const float *weight_scales;  /* n_weight_scales: 1 (per tensor) or out_channels (per channel) */
    int n_weight_scales;
} small_quant;

/* As small_layer_plan, for CONV2D and FULLY_CONNECTED on int8 tensors: weights int8 in the same layout
 * (OHWI, [out][K]), bias int32 (NULL: zero). */
small_status small_layer_plan_s8(small_layer *layer, const small_layer_desc *desc, const small_quant *quant,
                                 const int8_t *weights, const int32_t *bias);

/* As small_layer_run, on int8 tensors, for a layer planned by small_layer_plan_s8. */
small_status small_layer_run_s8(const small_layer *layer, const int8_t *const *inputs, int8_t *output);

/* Floats of weights and of bias that small_layer_plan reads for this descriptor (0 for ops
 * without them, and 0 when the descriptor is invalid: plan then reports why). */
size_t small_layer_weight_count(const small_layer_desc *desc);
size_t small_layer_bias_count(const small_layer_desc *desc);

/* Frees what plan allocated. Safe on a zeroed or failed layer. */
void small_layer_release(small_layer *layer);

/* ---- Models -------------------------------------------------------------------------------------
 * A model is a graph of layers in the library's own format (written by small_harness/models/format.py
 * from a .tflite file; the layout is documented there and in lib/src/model_file.h). It is loaded from a
 * memory buffer, so a file read on Linux and a const array in a microcontroller's flash work alike:
 * load validates everything, packs each layer's weights for this build once, and plans one activation
 * arena in which tensors whose lifetimes do not overlap share memory. Inference then allocates nothing.
 * The buffer must be 4-byte aligned, and stay valid during load; a pre-packed model's (version 2,
 * small_model_write_packed) as long as the model, since its weights are read there (64-byte aligned
 * is faster then: its weights lie at multiples of 64 bytes from its start). The arena the library
 * allocates, and every tensor in it, is 64-byte aligned: a vector never straddles two cache lines. */
typedef struct small_model small_model;


/* Loads a model; on failure returns the error, sets *model to NULL and says why in *why (optional).
 * Loaded while small_get_threads() > 1 (set the threads first), its arena is laid out for threads:
 * each tensor centred in a slot, so that each of 2 threads keeps to one half of every slot and finds
 * its data in its own core's cache (a larger arena: slots x the largest tensor). Either layout runs at
 * any thread count, with the same results. */
small_status small_model_load(small_model **model, const void *data, size_t size, small_message *why);

/* The same, with the activation arena in the caller's buffer (a static array on a microcontroller,
 * sized at build time from small_model_arena_bytes; always the compact layout): nothing is allocated
 * for it, and small_model_free leaves it alone. A buffer smaller than the plan needs is
 * SMALL_ERR_NOMEM, saying how many bytes it needs; arena must be 4-byte aligned (64-byte aligned is
 * faster: the tensors lie at multiples of 64 bytes from its start). NULL: as small_model_load. */
small_status small_model_load_with_arena(small_model **model, const void *data, size_t size, void *arena,
                                         size_t arena_bytes, small_message *why);

/* Writes the loaded model, whose file was `original` (size bytes), as a pre-packed model file for this
 * build: the same graph, with each layer's weights as this build packed them (format version 3).
 * Loading that file (small_model_load or _with_arena) reads the weights in place instead of packing
 * a copy, so a model in a microcontroller's flash costs no RAM for its weights; a build whose kernels
 * or tiles differ refuses it, naming both; a CRC-32 over the file refuses damaged weights. With out
 * NULL, only sets *out_size to the size needed; else out must hold *out_size bytes (SMALL_ERR_NOMEM if
 * not), and *out_size is set to the size. SMALL_ERR_PARAM when original (size bytes) is not the plain
 * file the model was loaded from. */
small_status small_model_write_packed(const small_model *model, const void *original, size_t size, void *out,
                                      size_t *out_size);

/* Runs one inference: input of small_model_input_shape, output of small_model_output_shape.
 * SMALL_ERR_BUSY, at once, while another thread runs the same model. */
small_status small_model_run(small_model *model, const float *input, float *output);

/* The input's and the output's places in the arena, for a caller short of memory: write the input
 * at small_model_input_buffer and pass it as small_model_run's input, and pass
 * small_model_output_buffer as its output (nothing is copied; the result stays there until the next
 * run). The input there is overwritten by the run. Any other buffers work as well. */
float *small_model_input_buffer(small_model *model);
float *small_model_output_buffer(small_model *model);

small_shape small_model_input_shape(const small_model *model);
small_shape small_model_output_shape(const small_model *model);
size_t small_model_arena_bytes(const small_model *model);
int small_model_layer_count(const small_model *model);
/* The planned layer i (0 <= i < layer count), e.g. for its kernel name; NULL when out of range. */
const small_layer *small_model_layer(const small_model *model, int i);
void small_model_free(small_model *model);

/* Elements of a shape: h * w * c; 0 if a dimension is not positive; SIZE_MAX if the count does not fit
 * a size_t (32-bit targets), so that a huge shape never wraps to a small one. */
size_t small_shape_size(small_shape shape);

/* Name of the kernel that serves a planned layer, e.g. "f32-conv-4x8-ref". */
const char *small_layer_kernel_name(const small_layer *layer);

/* ---- Kernels ------------------------------------------------------------------------------------
 * Each instruction set's kernels are a table; a build holds every table its compiler can build
 * (x86-64: avx512, avx2, ref). Layers are served, kind by kind, by the first table of a chain that
 * provides the kind; the chain is chosen at run time, by default every table this CPU runs, best
 * first, and arch/ref's always ends it. */
typedef enum {
    SMALL_KERNEL_CONV = 0,    /* conv, grouped conv */
    SMALL_KERNEL_DWCONV = 1,  /* depthwise conv */
    SMALL_KERNEL_MAXPOOL = 2,
    SMALL_KERNEL_AVGPOOL = 3, /* average and global average pooling */
    SMALL_KERNEL_ADD = 4,
    SMALL_KERNEL_COPY = 5,    /* activations, concat, reshape */
    SMALL_KERNEL_SOFTMAX = 6,
    SMALL_KERNEL_FC = 7,      /* fully connected, and a conv whose one window is its whole input */
    SMALL_KERNEL_S8_CONV = 8, /* int8 (small_layer_plan_s8): conv, grouped conv (every int8 conv but depthwise) */
    SMALL_KERNEL_S8_DWCONV = 9,
    SMALL_KERNEL_S8_FC = 10,
    SMALL_KERNEL_COUNT_ = 11
} small_kernel_kind;

/* The tables of this build, best first, space-separated, e.g. "avx512 avx2 ref". */
const char *small_kernel_isas(void);

/* 1 when this CPU runs the table `isa` of this build, 0 when it does not, -1 when the build lacks it. */
int small_isa_supported(const char *isa);

/* Chooses the chain for the layers planned from now on: "auto" (or NULL or ""): every table this CPU
 * runs, best first; else a comma-separated list of tables, e.g. "avx2" or "sve,asimd", to force them
 * (arch/ref's is appended). Refuses, saying why in *why (optional), a table the build lacks or the CPU
 * cannot run, and then leaves the chain as it was. Without a call, the first plan reads the
 * environment variable SMALL_KERNELS the same way; a refused value then makes every plan fail with
 * the reason. Call it before planning from several threads. */
small_status small_select_kernels(const char *spec, small_message *why);

/* The chain in force, space-separated, e.g. "avx2 ref". */
const char *small_selected_kernels(void);

/* The kernel the chain in force gives a kind: its name and its tile on this CPU (channel_tile 0: all
 * channels in one call). SMALL_ERR_PARAM for an unknown kind. */
small_status small_kernel_query(small_kernel_kind kind, const char **name, int *pixel_tile, int *channel_tile);

/* A kind may come in several tiles (RVV's conv in register groups of 4, 2, 1 and 1/2 vectors), widest
 * first: index 0 is what small_kernel_query gives. A layer gets the one whose channel blocks leave the
 * fewest lanes idle on its output channels per group, the wider on a tie. SMALL_ERR_PARAM past the last. */
small_status small_kernel_query_variant(small_kernel_kind kind, int index, const char **name, int *pixel_tile,
                                        int *channel_tile);

/* Whether conv variant `index` (as small_kernel_query_variant numbers them) has the Winograd F(2x2, 3x3)
 * transforms: *name is the name its 3x3 stride-1 layers of enough channels report
 * ("f32-winograd-8x16-avx512"), or "" when it has none and computes every conv directly.
 * SMALL_ERR_PARAM past the last variant. */
small_status small_kernel_query_winograd(int index, const char **name);

/* The FMA-peak probe of the first table in force that has one (for benchmarks): runs `iterations`
 * rounds of independent vector FMA chains and returns the floating-point operations done (0 when no
 * table has a probe); names the table in *isa. */
double small_kernel_peak(long iterations, float *sink, const char **isa);

/* Markers for instruction counters: calls that do nothing (nearly free: an empty function the
 * compiler must keep), made by small_model_run before each layer and after the last, and by the
 * runner around each layer request. A QEMU plugin (small_harness/counts/qemu_plugin/, `invoke bench` on emulated
 * targets) recognises them by name: each small_count_layer starts a new count, small_count_end
 * stops counting, so start-up, loading and planning are never counted. */
void small_count_layer(void);
void small_count_end(void);

#ifdef __cplusplus
}
#endif
#endif
