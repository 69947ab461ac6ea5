/* small_runner: executes layers sent on stdin and writes results to stdout, many per process,
 * because starting a process under QEMU costs tens of milliseconds. `--in=PATH --out=PATH` name
 * other streams (a bare-metal runner's FIFOs, opened through semihosting).
 *
 * Protocol (little-endian on every host, so a big-endian one swaps each word; small_harness/runner/protocol.py
 * is the other side):
 *   request:  u32 MAGIC, u32 command
 *     CMD_INFO:  -> reply text "protocol 5\nisas ISA...\nsupported ISA...\nselected ISA...\n"
 *                [ "select-error WHY\n" ] then "kernel KIND NAME PIXELS CHANNELS\n" per kind
 *                  and "variant KIND NAME PIXELS CHANNELS\n" per narrower variant of a kind (small_kernel_query_variant)
 *                  and "winograd CONV-NAME WINOGRAD-NAME\n" per conv variant with the Winograd transforms
 *     CMD_LAYER: u32 n_fields, i32 fields[n_fields] (order of enum field below), f32 alpha,
 *                then arrays (u32 count, f32 data[count]): weights, bias, inputs[n_inputs]
 *                -> reply: status, message, kernel name, output shape, output data, elapsed ns
 *     CMD_LAYER_S8: as CMD_LAYER up to alpha, then f32 input scale, i32 input zero point, f32 output
 *                scale, i32 output zero point, arrays f32 weight scales, int8 weights (u32 count, bytes),
 *                i32 bias, int8 input (small_layer_plan_s8, small_layer_run_s8)
 *                -> reply as for CMD_LAYER, its output int8 bytes (u32 count, bytes)
 *     CMD_MODEL_LOAD: u32 size, bytes[size] (a model file) -> reply: input shape, output shape,
 *                u64 arena bytes, string of the layers' kernel names, one per line
 *     CMD_MODEL_LOAD_ARENA: u32 arena_bytes, then as CMD_MODEL_LOAD: the arena in a buffer of that size
 *                (small_model_load_with_arena) -> reply as for CMD_MODEL_LOAD
 *     CMD_MODEL_PACK: u32 size, bytes[size] (a model file) -> reply: string, the file pre-packed for this
 *                build (small_model_write_packed); the loaded model stays
 *     CMD_MODEL_RUN: u32 repeat, then an array (the input) -> reply as for CMD_LAYER (kernel name empty)
 *     CMD_QUIT:  exit 0
 *     CMD_THREADS: u32 threads -> reply: status, message (small_set_threads; the count in force after)
 * With SMALL_RUNNER_CRASH_KERNEL=TEXT in its environment, the runner segfaults where it would run a
 * layer whose kernel name contains TEXT: the harness's test of its crash reports (never in fuzzing builds).
 *   reply:    u32 MAGIC, i32 status, string message, then the command's payload;
 *             a string is u32 length + bytes.
 * A malformed request gets SMALL_ERR_FORMAT and the runner exits, since the stream is lost. */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "small.h"
#include "small_runner.h"

enum { MAGIC = 0x524c4d53u /* "SMLR" */, CMD_INFO = 1, CMD_LAYER = 2, CMD_QUIT = 3, CMD_MODEL_LOAD = 4,
       CMD_MODEL_RUN = 5, CMD_THREADS = 6, CMD_MODEL_LOAD_ARENA = 7,
       CMD_MODEL_PACK = 8, CMD_LAYER_S8 = 9 };
static const char *crash_kernel;             /* SMALL_RUNNER_CRASH_KERNEL, set by main only */
static volatile uintptr_t crash_address = 0; /* volatile: the compiler cannot see the NULL store coming */
#ifndef SMALL_RUNNER_MAX_ARRAY
#define SMALL_RUNNER_MAX_ARRAY (1u << 28) /* floats in one array of a request */
#endif
#ifndef SMALL_RUNNER_MAX_REPEAT
#define SMALL_RUNNER_MAX_REPEAT 1000000 /* timed runs of one request */
#endif
enum { MAX_ARRAY = SMALL_RUNNER_MAX_ARRAY };

/* The streams the protocol runs on: stdin and stdout for the program, any pair for the fuzzer. */
static FILE *wire_in, *wire_out;

enum field {
    F_OP, F_N_INPUTS, F_INPUT_SHAPES, /* SMALL_MAX_INPUTS x (h, w, c) */
    F_OUT_CHANNELS = F_INPUT_SHAPES + 3 * SMALL_MAX_INPUTS, F_GROUPS, F_KERNEL_H, F_KERNEL_W, F_STRIDE_H,
    F_STRIDE_W, F_DILATION_H, F_DILATION_W, F_PADDING, F_PAD_TOP, F_PAD_BOTTOM, F_PAD_LEFT, F_PAD_RIGHT,
    F_ACTIVATION, F_RESHAPE_H, F_RESHAPE_W, F_RESHAPE_C, F_HAS_WEIGHTS, F_HAS_BIAS, F_REPEAT, F_COUNT
};

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
enum { HOST_IS_BIG_ENDIAN = 1 };
#else
enum { HOST_IS_BIG_ENDIAN = 0 };
#endif

/* Reverses the bytes of each 4-byte word on a big-endian host: little-endian wire <-> host order. */
static void to_or_from_wire(void *p, size_t words) {
    unsigned char *b = p;
    for (size_t i = 0; HOST_IS_BIG_ENDIAN && i < words; ++i, b += 4) {
        const unsigned char b0 = b[0], b1 = b[1];
        b[0] = b[3], b[1] = b[2], b[2] = b1, b[3] = b0;
    }
}

static int read_exact(void *p, size_t n) { return fread(p, 1, n, wire_in) == n; }

/* 32-bit words (integers and floats) in host order. */
static int read_words(void *p, size_t words) {
    if (fread(p, 4, words, wire_in) != words) return 0;
    to_or_from_wire(p, words);
    return 1;
}

static void write_words(const void *p, size_t words) {
    if (!HOST_IS_BIG_ENDIAN) {
        fwrite(p, 4, words, wire_out);
        return;
    }
    for (size_t i = 0; i < words; ++i) {
        unsigned char word[4];
        memcpy(word, (const unsigned char *)p + 4 * i, 4);
        to_or_from_wire(word, 1);
        fwrite(word, 4, 1, wire_out);
    }
}

static void write_u32(uint32_t v) { write_words(&v, 1); }
static void write_i32(int32_t v) { write_words(&v, 1); }
static void write_u64(uint64_t v) { /* low word first, as little-endian puts it */
    const uint32_t halves[2] = {(uint32_t)v, (uint32_t)(v >> 32)};
    write_words(halves, 2);
}
static void write_string(const char *s) {
    write_u32((uint32_t)strlen(s));
    fwrite(s, 1, strlen(s), wire_out);
}

/* Reads one (u32 count, f32 data[count]) array into a fresh buffer; *ok = 0 on a broken stream. */
static float *read_array(uint32_t *count, int *ok) {
    *ok = read_words(count, 1) && *count <= MAX_ARRAY;
    if (!*ok || *count == 0) return NULL;
    /* Cache-line aligned, as a model's activation arena would be: a vector load then never
     * straddles two lines, which would slow the kernels the bench times. */
    float *data = aligned_alloc(64, ((size_t)*count * sizeof(float) + 63) / 64 * 64);
    *ok = data && read_words(data, *count);
    return data;
}

static void reply_header(small_status status, const char *message) {
    write_u32(MAGIC);
    write_i32(status);
    write_string(message);
}

static void write_shape(small_shape s) {
    write_i32(s.h);
    write_i32(s.w);
    write_i32(s.c);
}

/* Floats past a layer's output that the runner fills with a NaN no kernel computes and checks after
 * the run: a kernel storing past its tile's last pixel (a whole vector where a part one was due) would
 * otherwise go unnoticed wherever the allocation's rounding to 64 bytes absorbs it. Such a write is
 * memory corruption, so the runner stops as a crash would, naming the kernel. */
enum { GUARD_FLOATS = 64 };
static const uint32_t GUARD_BITS = 0x7fc0deadu;
enum { GUARD_BYTE = 0xa5 }; /* int8 outputs' guard (serve_layer_s8) */

static void fill_guard(float *guard) {
    for (int i = 0; i < GUARD_FLOATS; ++i) memcpy(guard + i, &GUARD_BITS, sizeof GUARD_BITS);
}

static void check_guard(const float *guard, const char *kernel) {
    for (int i = 0; i < GUARD_FLOATS; ++i)
        if (memcmp(guard + i, &GUARD_BITS, sizeof GUARD_BITS)) {
            fprintf(stderr, "small_runner: %s wrote past the end of its output (float %d after it)\n", kernel, i);
            fflush(stderr);
            abort();
        }
}

/* The reply of CMD_LAYER and CMD_MODEL_RUN: the output (none unless status is SMALL_OK), the
 * kernel that computed it, and the time of the repeated runs. */
static void reply_tensor(small_status status, const char *message, const char *kernel, small_shape shape,
                         const float *output, uint64_t elapsed) {
    if (status != SMALL_OK) shape = (small_shape){0, 0, 0};
    reply_header(status, status == SMALL_OK ? "" : message);
    write_string(kernel);
    write_shape(shape);
    const uint32_t n_out = (uint32_t)small_shape_size(shape);
    write_u32(n_out);
    if (n_out) write_words(output, n_out);
    write_u64(elapsed);
}

/* Why SMALL_KERNELS was refused at start-up, or "" (the library then refuses every plan, saying so). */
static small_message selection_error;

static void reply_info(void) {
    static const char *const kinds[SMALL_KERNEL_COUNT_] = {"conv", "dwconv", "maxpool", "avgpool",
                                                           "add",  "copy",   "softmax", "fc",
                                                           "s8_conv", "s8_dwconv", "s8_fc"};
    char text[2048], supported[256] = "";
    const char *name_of_conv = "";
    const char *isas = small_kernel_isas();
    size_t used = 0;
    for (const char *word = isas; *word;) { /* the tables this CPU runs */
        const size_t length = strcspn(word, " ");
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)length, word);
        if (small_isa_supported(name) == 1 && used < sizeof supported)
            used += (size_t)snprintf(supported + used, sizeof supported - used, "%s%s", used ? " " : "", name);
        word += length + (word[length] == ' ');
    }
    int n = snprintf(text, sizeof text, "protocol 5\nisas %s\nsupported %s\nselected %s\n", isas, supported,
                     small_selected_kernels());
    if (selection_error.text[0]) n += snprintf(text + n, sizeof text - (size_t)n, "select-error %s\n", selection_error.text);
    for (int kind = 0; kind < SMALL_KERNEL_COUNT_; ++kind) {
        const char *name = "";
        int pixels = 0, channels = 0;
        small_kernel_query((small_kernel_kind)kind, &name, &pixels, &channels);
        n += snprintf(text + n, sizeof text - (size_t)n, "kernel %s %s %d %d\n", kinds[kind], name, pixels, channels);
        for (int v = 1; small_kernel_query_variant((small_kernel_kind)kind, v, &name, &pixels, &channels) == SMALL_OK; ++v)
            n += snprintf(text + n, sizeof text - (size_t)n, "variant %s %s %d %d\n", kinds[kind], name, pixels, channels);
    }
    /* the conv variants that compute 3x3 stride-1 layers through Winograd, and the name those report */
    const char *winograd = "";
    for (int v = 0; small_kernel_query_variant(SMALL_KERNEL_CONV, v, &name_of_conv, NULL, NULL) == SMALL_OK; ++v)
        if (small_kernel_query_winograd(v, &winograd) == SMALL_OK && winograd[0])
            n += snprintf(text + n, sizeof text - (size_t)n, "winograd %s %s\n", name_of_conv, winograd);
    reply_header(SMALL_OK, "");
    write_string(text);
}

static small_layer_desc desc_from_fields(const int32_t *f, float alpha) {
    small_layer_desc d = small_layer_desc_default((small_op)f[F_OP]);
    d.n_inputs = f[F_N_INPUTS];
    for (int i = 0; i < SMALL_MAX_INPUTS; ++i)
        d.inputs[i] = (small_shape){f[F_INPUT_SHAPES + 3 * i], f[F_INPUT_SHAPES + 3 * i + 1],
                                    f[F_INPUT_SHAPES + 3 * i + 2]};
    d.out_channels = f[F_OUT_CHANNELS];
    d.groups = f[F_GROUPS];
    d.kernel_h = f[F_KERNEL_H];
    d.kernel_w = f[F_KERNEL_W];
    d.stride_h = f[F_STRIDE_H];
    d.stride_w = f[F_STRIDE_W];
    d.dilation_h = f[F_DILATION_H];
    d.dilation_w = f[F_DILATION_W];
    d.padding = (small_padding)f[F_PADDING];
    d.pad_top = f[F_PAD_TOP];
    d.pad_bottom = f[F_PAD_BOTTOM];
    d.pad_left = f[F_PAD_LEFT];
    d.pad_right = f[F_PAD_RIGHT];
    d.activation = (small_activation)f[F_ACTIVATION];
    d.alpha = alpha;
    d.reshape_to = (small_shape){f[F_RESHAPE_H], f[F_RESHAPE_W], f[F_RESHAPE_C]};
    return d;
}

static uint64_t now_ns(void) {
#if defined(CLOCK_MONOTONIC)
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#else /* bare metal (picolibc): the semihosting clock, in microseconds; time under QEMU means little */
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000000000u + (uint64_t)tv.tv_usec * 1000u;
#endif
}

/* Returns 0 when the stream is broken and the runner must stop. */
static int serve_layer(void) {
    uint32_t n_fields = 0;
    int32_t fields[F_COUNT];
    float alpha = 0;
    if (!read_words(&n_fields, 1) || n_fields != F_COUNT || !read_words(fields, F_COUNT) || !read_words(&alpha, 1)) {
        reply_header(SMALL_ERR_FORMAT, "malformed layer request (field count or truncated)");
        return 0;
    }
    small_layer_desc desc = desc_from_fields(fields, alpha);
    int ok = 1, n_inputs = desc.n_inputs >= 0 && desc.n_inputs <= SMALL_MAX_INPUTS ? desc.n_inputs : 0;
    uint32_t n_weights = 0, n_bias = 0, n_in[SMALL_MAX_INPUTS] = {0};
    float *weights = read_array(&n_weights, &ok);
    float *bias = ok ? read_array(&n_bias, &ok) : NULL;
    float *inputs[SMALL_MAX_INPUTS] = {0};
    for (int i = 0; ok && i < n_inputs; ++i) inputs[i] = read_array(&n_in[i], &ok);
    if (!ok) {
        reply_header(SMALL_ERR_FORMAT, "malformed layer request (array)");
        free(weights);
        free(bias);
        for (int i = 0; i < n_inputs; ++i) free(inputs[i]);
        return 0;
    }

    /* The library reads as many floats as the descriptor implies: check the arrays hold them. */
    small_layer layer;
    memset(&layer, 0, sizeof layer);
    char mismatch[96];
    const char *message = mismatch;
    small_status s = SMALL_ERR_SHAPE;
    const size_t want_weights = small_layer_weight_count(&desc), want_bias = small_layer_bias_count(&desc);
    if (fields[F_HAS_WEIGHTS] && want_weights && n_weights != want_weights) {
        snprintf(mismatch, sizeof mismatch, "weights have %u floats, the layer needs %zu", n_weights, want_weights);
    } else if (fields[F_HAS_BIAS] && want_bias && n_bias != want_bias) {
        snprintf(mismatch, sizeof mismatch, "bias has %u floats, the layer needs %zu", n_bias, want_bias);
    } else {
        s = small_layer_plan(&layer, &desc, fields[F_HAS_WEIGHTS] ? weights : NULL, fields[F_HAS_BIAS] ? bias : NULL);
        message = layer.message;
    }
    for (int i = 0; s == SMALL_OK && i < n_inputs; ++i)
        if (n_in[i] != small_shape_size(desc.inputs[i])) {
            snprintf(mismatch, sizeof mismatch, "input %d has %u floats, its shape needs %zu", i, n_in[i],
                     small_shape_size(desc.inputs[i]));
            s = SMALL_ERR_SHAPE;
            message = mismatch;
        }
    float *output = NULL;
    uint64_t elapsed = 0;
    if (s == SMALL_OK && small_shape_size(layer.output) > MAX_ARRAY) {
        snprintf(mismatch, sizeof mismatch, "the output has %zu floats, over the runner's limit of %u",
                 small_shape_size(layer.output), (unsigned)MAX_ARRAY);
        s = SMALL_ERR_NOMEM;
        message = mismatch;
    }
    const size_t n_out = s == SMALL_OK ? small_shape_size(layer.output) : 0;
    if (s == SMALL_OK) {
        output = aligned_alloc(64, ((n_out + GUARD_FLOATS) * sizeof(float) + 63) / 64 * 64);
        if (output) fill_guard(output + n_out);
        if (!output) {
            s = SMALL_ERR_NOMEM;
            message = "cannot allocate the output";
        }
    }
    if (s == SMALL_OK) {
        const int repeat = fields[F_REPEAT] < 1 ? 1 : fields[F_REPEAT] > SMALL_RUNNER_MAX_REPEAT ? SMALL_RUNNER_MAX_REPEAT
                                                                                             : fields[F_REPEAT];
        if (crash_kernel && strstr(small_layer_kernel_name(&layer), crash_kernel)) {
            fflush(wire_out);
            *(volatile int *)crash_address = 1; /* a real segfault, as a faulty kernel would give */
        }
        const uint64_t start = now_ns();
        small_count_layer(); /* one count for the request, however many repeats */
        for (int r = 0; r < repeat && s == SMALL_OK; ++r)
            s = small_layer_run(&layer, (const float *const *)inputs, output);
        small_count_end();
        elapsed = now_ns() - start;
        check_guard(output + n_out, small_layer_kernel_name(&layer));
    }
    reply_tensor(s, message, small_layer_kernel_name(&layer), layer.output, output, elapsed);

    small_layer_release(&layer);
    free(output);
    free(weights);
    free(bias);
    for (int i = 0; i < n_inputs; ++i) free(inputs[i]);
    return 1;
}

/* One (u32 count, bytes[count]) array of int8 into a fresh buffer; *ok = 0 on a broken stream. */
static void *read_bytes(uint32_t *count, int *ok) {
    *ok = read_words(count, 1) && *count <= MAX_ARRAY;
    if (!*ok || *count == 0) return NULL;
    void *data = aligned_alloc(64, ((size_t)*count + 63) / 64 * 64);
    *ok = data && read_exact(data, *count);
    return data;
}

/* CMD_LAYER_S8: an int8 layer (conv, depthwise, fully connected), planned and run once per repeat.
 * Returns 0 when the stream is broken. */
static int serve_layer_s8(void) {
    uint32_t n_fields = 0;
    int32_t fields[F_COUNT], zeros[2] = {0, 0};
    float alpha = 0, scales[2] = {0, 0};
    int ok = read_words(&n_fields, 1) && n_fields == F_COUNT && read_words(fields, F_COUNT) && read_words(&alpha, 1) &&
             read_words(&scales[0], 1) && read_words(&zeros[0], 1) && read_words(&scales[1], 1) &&
             read_words(&zeros[1], 1);
    uint32_t n_scales = 0, n_weights = 0, n_bias = 0, n_in = 0;
    float *weight_scales = ok ? read_array(&n_scales, &ok) : NULL;
    int8_t *weights = ok ? read_bytes(&n_weights, &ok) : NULL;
    int32_t *bias = ok ? (int32_t *)(void *)read_array(&n_bias, &ok) : NULL; /* 32-bit words, as floats */
    int8_t *input = ok ? read_bytes(&n_in, &ok) : NULL;
    const small_layer_desc desc = desc_from_fields(fields, alpha);
    if (!ok || desc.n_inputs != 1) {
        reply_header(SMALL_ERR_FORMAT, "malformed int8 layer request");
        free(weight_scales), free(weights), free(bias), free(input);
        return 0;
    }
    const small_quant quant = {scales[0], zeros[0], scales[1], zeros[1], weight_scales, (int)n_scales};
    small_layer layer;
    memset(&layer, 0, sizeof layer);
    char mismatch[96];
    const char *message = mismatch;
    small_status s = SMALL_ERR_SHAPE;
    const size_t want_weights = small_layer_weight_count(&desc), want_bias = small_layer_bias_count(&desc);
    if (want_weights && n_weights != want_weights) {
        snprintf(mismatch, sizeof mismatch, "weights have %u elements, the layer needs %zu", n_weights, want_weights);
    } else if (fields[F_HAS_BIAS] && want_bias && n_bias != want_bias) {
        snprintf(mismatch, sizeof mismatch, "bias has %u elements, the layer needs %zu", n_bias, want_bias);
    } else if (n_in != small_shape_size(desc.inputs[0])) {
        snprintf(mismatch, sizeof mismatch, "input has %u elements, its shape needs %zu", n_in,
                 small_shape_size(desc.inputs[0]));
    } else {
        s = small_layer_plan_s8(&layer, &desc, &quant, weights, fields[F_HAS_BIAS] ? bias : NULL);
        message = layer.message;
    }
    const size_t n_out = s == SMALL_OK ? small_shape_size(layer.output) : 0;
    int8_t *output = NULL;
    uint64_t elapsed = 0;
    if (s == SMALL_OK && !(output = aligned_alloc(64, (n_out + 4 * GUARD_FLOATS + 63) / 64 * 64))) {
        s = SMALL_ERR_NOMEM;
        message = "cannot allocate the output";
    }
    if (s == SMALL_OK) {
        memset(output + n_out, GUARD_BYTE, 4 * GUARD_FLOATS); /* the guard of check_guard, in bytes */
        const int repeat = fields[F_REPEAT] < 1 ? 1 : fields[F_REPEAT] > SMALL_RUNNER_MAX_REPEAT ? SMALL_RUNNER_MAX_REPEAT
                                                                                             : fields[F_REPEAT];
        const int8_t *inputs[1] = {input};
        const uint64_t start = now_ns();
        small_count_layer();
        for (int r = 0; r < repeat && s == SMALL_OK; ++r) s = small_layer_run_s8(&layer, inputs, output);
        small_count_end();
        elapsed = now_ns() - start;
        for (int i = 0; i < 4 * GUARD_FLOATS; ++i)
            if ((unsigned char)output[n_out + i] != GUARD_BYTE) {
                fprintf(stderr, "small_runner: %s wrote past the end of its output (byte %d after it)\n",
                        small_layer_kernel_name(&layer), i);
                fflush(stderr);
                abort();
            }
    }
    const small_shape shape = s == SMALL_OK ? layer.output : (small_shape){0, 0, 0};
    reply_header(s, s == SMALL_OK ? "" : message);
    write_string(small_layer_kernel_name(&layer));
    write_shape(shape);
    write_u32((uint32_t)n_out);
    if (n_out) fwrite(output, 1, n_out, wire_out);
    write_u64(elapsed);
    small_layer_release(&layer);
    free(output), free(weight_scales), free(weights), free(bias), free(input);
    return 1;
}

static small_model *model; /* the one loaded model, replaced by the next CMD_MODEL_LOAD */
static void *model_arena;   /* its arena when the request gave one (CMD_MODEL_LOAD_ARENA) */
static unsigned char *model_file; /* its file: a pre-packed one's weights are read there */

/* A request's model file (u32 size, bytes) in a fresh buffer, cache-line aligned (a pre-packed model's
 * weights are read in place, at multiples of 64 bytes from its start); NULL, after the error reply,
 * when the stream is broken. */
static unsigned char *read_model_file(uint32_t *size) {
    if (!read_words(size, 1) || *size > MAX_ARRAY) {
        reply_header(SMALL_ERR_FORMAT, "malformed model request");
        return NULL;
    }
    unsigned char *bytes = aligned_alloc(64, ((size_t)*size + 64) / 64 * 64);
    if (!bytes || !read_exact(bytes, *size)) {
        free(bytes);
        reply_header(SMALL_ERR_FORMAT, "model request truncated");
        return NULL;
    }
    return bytes;
}

/* CMD_MODEL_LOAD, or with `with_arena` CMD_MODEL_LOAD_ARENA: the arena in a buffer of the size the
 * request gives (small_model_load_with_arena), as a microcontroller's static buffer would be. */
static int serve_model_load(int with_arena) {
    uint32_t size = 0, arena_bytes = 0;
    if (with_arena && (!read_words(&arena_bytes, 1) || arena_bytes > 4u * MAX_ARRAY)) {
        reply_header(SMALL_ERR_FORMAT, "malformed model request");
        return 0;
    }
    unsigned char *bytes = read_model_file(&size);
    if (!bytes) return 0;
    small_model_free(model);
    model = NULL;
    free(model_file);
    model_file = bytes;
    free(model_arena);
    model_arena = with_arena ? aligned_alloc(64, ((size_t)arena_bytes + 64) / 64 * 64) : NULL;
    small_message why;
    small_status s = with_arena && !model_arena
        ? (snprintf(why.text, sizeof why.text, "cannot allocate the arena buffer"), SMALL_ERR_NOMEM)
        : small_model_load_with_arena(&model, bytes, size, model_arena, arena_bytes, &why);
    reply_header(s, why.text);
    write_shape(small_model_input_shape(model));
    write_shape(small_model_output_shape(model));
    uint64_t arena = small_model_arena_bytes(model);
    write_u64(arena);
    static char kernels[1 << 14];
    size_t n = 0;
    kernels[0] = '\0';
    for (int i = 0; i < small_model_layer_count(model) && n + 64 < sizeof kernels; ++i)
        n += (size_t)snprintf(kernels + n, sizeof kernels - n, "%s\n", small_layer_kernel_name(small_model_layer(model, i)));
    write_string(kernels);
    return 1;
}

static int serve_model_run(void) {
    uint32_t repeat = 0, n_in = 0;
    int ok = read_words(&repeat, 1);
    float *input = ok ? read_array(&n_in, &ok) : NULL;
    if (!ok) {
        free(input);
        reply_header(SMALL_ERR_FORMAT, "malformed model run request");
        return 0;
    }
    small_status s = model ? SMALL_OK : SMALL_ERR_PARAM;
    const char *message = model ? "" : "no model loaded";
    if (model && n_in != small_shape_size(small_model_input_shape(model))) {
        s = SMALL_ERR_SHAPE;
        message = "input size differs from the model's input shape";
    }
    const small_shape out = s == SMALL_OK ? small_model_output_shape(model) : (small_shape){0, 0, 0};
    /* The result where the last layer writes it, as LiteRT's invoke() leaves it in its output tensor
     * (the timed loops of both copy nothing out). */
    float *output = s == SMALL_OK ? small_model_output_buffer(model) : NULL;
    uint64_t elapsed = 0;
    if (s == SMALL_OK) {
        const uint64_t start = now_ns();
        if (repeat < 1) repeat = 1;
        if (repeat > SMALL_RUNNER_MAX_REPEAT) repeat = SMALL_RUNNER_MAX_REPEAT;
        for (uint32_t r = 0; r < repeat && s == SMALL_OK; ++r) s = small_model_run(model, input, output);
        elapsed = now_ns() - start;
    }
    /* No kernel name: a model has one per layer, sent at load. */
    reply_tensor(s, message, "", out, output, elapsed);
    free(input);
    return 1;
}

/* CMD_MODEL_PACK: loads a model file and replies with it pre-packed for this build
 * (small_model_write_packed), as a string; the loaded model stays as it was. */
static int serve_model_pack(void) {
    uint32_t size = 0;
    unsigned char *bytes = read_model_file(&size);
    if (!bytes) return 0;
    small_model *loaded = NULL;
    small_message why;
    small_status s = small_model_load(&loaded, bytes, size, &why);
    size_t packed_size = 0;
    unsigned char *packed = NULL;
    if (s == SMALL_OK) s = small_model_write_packed(loaded, bytes, size, NULL, &packed_size);
    if (s == SMALL_OK && !(packed = malloc(packed_size))) s = SMALL_ERR_NOMEM;
    if (s == SMALL_OK) s = small_model_write_packed(loaded, bytes, size, packed, &packed_size);
    if (s == SMALL_OK && packed_size > UINT32_MAX) s = SMALL_ERR_NOMEM;
    if (s != SMALL_OK && !why.text[0]) snprintf(why.text, sizeof why.text, "cannot write the pre-packed model");
    reply_header(s, s == SMALL_OK ? "" : why.text);
    write_u32(s == SMALL_OK ? (uint32_t)packed_size : 0);
    if (s == SMALL_OK) fwrite(packed, 1, packed_size, wire_out);
    free(packed);
    small_model_free(loaded);
    free(bytes);
    return 1;
}

#ifndef SMALL_RUNNER_MAX_THREADS
#define SMALL_RUNNER_MAX_THREADS SMALL_MAX_THREADS
#endif

static int serve_threads(void) {
    uint32_t threads = 0;
    if (!read_words(&threads, 1)) {
        reply_header(SMALL_ERR_FORMAT, "malformed threads request");
        return 0;
    }
    char message[64];
    const small_status s = threads > SMALL_RUNNER_MAX_THREADS ? SMALL_ERR_PARAM : small_set_threads((int)threads);
    snprintf(message, sizeof message, "%d threads", small_get_threads());
    reply_header(s, message);
    return 1;
}

/* Serves requests until the stream ends (0), a quit (0), or a malformed request (2). */
int small_runner_serve(FILE *in, FILE *out) {
    wire_in = in;
    wire_out = out;
    for (;;) {
        uint32_t header[2];
        if (!read_words(header, 2)) return 0; /* the client closed the pipe */
        if (header[0] != MAGIC) {
            reply_header(SMALL_ERR_FORMAT, "bad magic: not a small_runner request");
            fflush(wire_out);
            return 2;
        }
        int keep_going = 1;
        switch (header[1]) {
        case CMD_INFO: reply_info(); break;
        case CMD_LAYER: keep_going = serve_layer(); break;
        case CMD_LAYER_S8: keep_going = serve_layer_s8(); break;
        case CMD_MODEL_LOAD: keep_going = serve_model_load(0); break;
        case CMD_MODEL_LOAD_ARENA: keep_going = serve_model_load(1); break;
        case CMD_MODEL_PACK: keep_going = serve_model_pack(); break;
        case CMD_MODEL_RUN: keep_going = serve_model_run(); break;
        case CMD_QUIT: return 0;
        case CMD_THREADS: keep_going = serve_threads(); break;
        default: reply_header(SMALL_ERR_FORMAT, "unknown command"); keep_going = 0;
        }
        fflush(wire_out);
        if (!keep_going) return 2;
    }
}

#ifndef SMALL_RUNNER_FUZZ
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
/* Built with ThreadSanitizer (the x86_64-tsan target): the first race ends the runner, as a crash would,
 * so that the request that caused it fails its test (by default the report is printed and the runner
 * goes on, exiting non-zero only when the harness closes it). */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) { return "halt_on_error=1"; }
#endif
#endif

int main(int argc, char **argv) {
    /* The kernel tables to use: SMALL_KERNELS, as the library would read it, but refused loudly. */
    const char *kernels = getenv("SMALL_KERNELS");
    if (kernels && small_select_kernels(kernels, &selection_error) != SMALL_OK) {
        char why[sizeof selection_error.text];
        snprintf(why, sizeof why, "%s", selection_error.text);
        snprintf(selection_error.text, sizeof selection_error.text, "SMALL_KERNELS=%s: %s", kernels, why);
    }
    crash_kernel = getenv("SMALL_RUNNER_CRASH_KERNEL");
    if (crash_kernel && !*crash_kernel) crash_kernel = NULL;
    FILE *in = small_runner_stream(argc, argv, "--in=", "rb", stdin);
    FILE *out = in ? small_runner_stream(argc, argv, "--out=", "wb", stdout) : NULL;
    if (!in || !out) {
        fprintf(stderr, "small_runner: cannot open the --in or --out stream\n");
        return 2;
    }
    return small_runner_serve(in, out);
}
#endif
