/* The public layer API: a descriptor checked, its output shape, its kernel chosen and its weights packed
 * (small_layer_plan), and one run (small_layer_run). How each op becomes an instance of the shared nest,
 * and the three ops that are more than one nest, are lower.c's. */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nest.h"
#include "lower.h"
#include "threads.h"
#include "winograd.h"

const char *small_status_name(small_status status) {
    switch (status) {
    case SMALL_OK: return "SMALL_OK";
    case SMALL_ERR_NULL: return "SMALL_ERR_NULL";
    case SMALL_ERR_SHAPE: return "SMALL_ERR_SHAPE";
    case SMALL_ERR_PARAM: return "SMALL_ERR_PARAM";
    case SMALL_ERR_NOMEM: return "SMALL_ERR_NOMEM";
    case SMALL_ERR_UNSUPPORTED: return "SMALL_ERR_UNSUPPORTED";
    case SMALL_ERR_FORMAT: return "SMALL_ERR_FORMAT";
    case SMALL_ERR_BUSY: return "SMALL_ERR_BUSY";
    }
    return "SMALL_ERR_UNKNOWN";
}

static const char *const op_names[SMALL_OP_COUNT_] = {
    "conv2d", "maxpool", "avgpool", "global_avgpool", "fully_connected",
    "add", "activation", "softmax", "concat", "reshape",
};

small_layer_desc small_layer_desc_default(small_op op) {
    small_layer_desc d;
    memset(&d, 0, sizeof d);
    d.op = op;
    d.n_inputs = 1;
    d.groups = 1;
    d.kernel_h = d.kernel_w = 1;
    d.stride_h = d.stride_w = 1;
    d.dilation_h = d.dilation_w = 1;
    d.padding = SMALL_PAD_VALID;
    d.activation = SMALL_ACT_NONE;
    return d;
}

size_t small_shape_size(small_shape s) {
    if (s.h <= 0 || s.w <= 0 || s.c <= 0) return 0;
    /* Saturates, so that a size_t of 32 bits (ARMv7) cannot wrap a huge shape to a small count. */
    size_t hw, hwc;
    if (__builtin_mul_overflow((size_t)s.h, (size_t)s.w, &hw) || __builtin_mul_overflow(hw, (size_t)s.c, &hwc))
        return SIZE_MAX;
    return hwc;
}

const char *small_layer_kernel_name(const small_layer *layer) {
    if (!layer || !layer->kernel) return "";
    return layer->winograd_weights ? layer->kernel->winograd_name : layer->kernel->name;
}

static small_status fail(small_layer *layer, small_status status, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    int n = snprintf(layer->message, sizeof layer->message, "%s: ",
                     (unsigned)layer->desc.op < SMALL_OP_COUNT_ ? op_names[layer->desc.op] : "layer");
    if (n > 0 && (size_t)n < sizeof layer->message)
        vsnprintf(layer->message + n, sizeof layer->message - (size_t)n, fmt, args);
    va_end(args);
    return status;
}

/* The kernel the chain in force gives a kind, with its tile on this CPU, for `channels` output
 * channels per group (0: any). */
static small_status pick_kernel_for(small_layer *layer, small_kernel_kind kind, int channels) {
    const char *selection_error = small_kernel_selection_error();
    if (selection_error) return fail(layer, SMALL_ERR_UNSUPPORTED, "%s", selection_error);
    const small_kernel_choice choice = small_choose_kernel(kind, channels);
    layer->kernel = choice.info;
    layer->pixel_tile = choice.pixel_tile;
    layer->channel_tile = choice.channel_tile;
    return SMALL_OK;
}

static small_status pick_kernel(small_layer *layer, small_kernel_kind kind) { return pick_kernel_for(layer, kind, 0); }

small_kernel_choice small_layer_kernel_choice(const small_layer *layer) {
    small_kernel_choice choice = {layer->kernel, layer->pixel_tile, layer->channel_tile};
    return choice;
}

/* Largest tensor we accept: its float offsets must fit in an int-sized index product. */
#define SMALL_MAX_ELEMENTS ((size_t)INT_MAX)
/* Largest padded extent of a window axis: every index the nest forms along it (start, span, stride
 * steps) stays below INT_MAX, and its step products stay within ptrdiff_t on 32-bit targets too. */
#define SMALL_MAX_EXTENT ((int64_t)INT_MAX / 2)

static int shape_ok(small_shape s) {
    return s.h > 0 && s.w > 0 && s.c > 0 && small_shape_size(s) <= SMALL_MAX_ELEMENTS;
}

static small_limits limits = {SMALL_DEFAULT_MAX_WEIGHT_BYTES, SMALL_DEFAULT_MAX_ARENA_BYTES};

void small_set_limits(const small_limits *new_limits) {
    if (new_limits) limits = *new_limits;
}

small_limits small_get_limits(void) { return limits; }

/* Output size and padding before, along one axis, for a window of `taps` taps; all in 64-bit, so a
 * crafted kernel, dilation or padding is refused with its true values instead of wrapping. */
static small_status resolve_axis(small_layer *layer, const char *axis, int in, int taps, int stride,
                                 int dilation, int pad_before, int pad_after, int *out, int *before) {
    const small_layer_desc *d = &layer->desc;
    const int64_t span = (int64_t)(taps - 1) * dilation + 1;
    int64_t padded, out64, before64;
    switch (d->padding) {
    case SMALL_PAD_SAME: /* TFLite: out = ceil(in / stride); the window may reach past both ends */
        out64 = ((int64_t)in + stride - 1) / stride;
        padded = (out64 - 1) * stride + span;
        before64 = padded > in ? (padded - in) / 2 : 0;
        if (padded < in) padded = in;
        break;
    case SMALL_PAD_VALID:
    case SMALL_PAD_EXPLICIT:
        if (d->padding == SMALL_PAD_VALID) pad_before = pad_after = 0;
        if (pad_before < 0 || pad_after < 0)
            return fail(layer, SMALL_ERR_PARAM, "negative %s padding %d, %d", axis, pad_before, pad_after);
        padded = (int64_t)in + pad_before + pad_after;
        if (span > padded)
            return fail(layer, SMALL_ERR_SHAPE, "%s window %lld (kernel %d, dilation %d) larger than padded input %lld",
                        axis, (long long)span, taps, dilation, (long long)padded);
        out64 = (padded - span) / stride + 1;
        before64 = pad_before;
        break;
    default: return fail(layer, SMALL_ERR_PARAM, "unknown padding mode %d", (int)d->padding);
    }
    if (padded > SMALL_MAX_EXTENT || span > SMALL_MAX_EXTENT)
        return fail(layer, SMALL_ERR_SHAPE, "%s window %lld over a padded input of %lld: more than %lld", axis,
                    (long long)span, (long long)padded, (long long)SMALL_MAX_EXTENT);
    *out = (int)out64;
    *before = (int)before64;
    return SMALL_OK;
}

static small_status check_window(small_layer *layer, int is_pool) {
    const small_layer_desc *d = &layer->desc;
    const small_shape in = d->inputs[0];
    if (d->kernel_h < 1 || d->kernel_w < 1)
        return fail(layer, SMALL_ERR_PARAM, "kernel %dx%d must be at least 1x1", d->kernel_h, d->kernel_w);
    if (d->stride_h < 1 || d->stride_w < 1)
        return fail(layer, SMALL_ERR_PARAM, "stride %dx%d must be at least 1", d->stride_h, d->stride_w);
    if (d->dilation_h < 1 || d->dilation_w < 1)
        return fail(layer, SMALL_ERR_PARAM, "dilation %dx%d must be at least 1", d->dilation_h, d->dilation_w);
    if (is_pool && (d->dilation_h != 1 || d->dilation_w != 1))
        return fail(layer, SMALL_ERR_UNSUPPORTED, "dilated pooling");
    /* Pools need every window to hold a real pixel, which padding smaller than the kernel ensures. */
    if (is_pool && d->padding == SMALL_PAD_EXPLICIT &&
        (d->pad_top >= d->kernel_h || d->pad_bottom >= d->kernel_h || d->pad_left >= d->kernel_w ||
         d->pad_right >= d->kernel_w))
        return fail(layer, SMALL_ERR_PARAM, "pool padding must be smaller than the %dx%d kernel", d->kernel_h,
                    d->kernel_w);
    /* Strides are bounded as the padded extent and the window are (resolve_axis), so that every index
     * the nest forms from them (window starts, interior ranges, steps) stays below INT_MAX: a stride of
     * INT_MAX once overflowed the interior's bound, and a pool read before its input. */
    if (d->stride_h > SMALL_MAX_EXTENT || d->stride_w > SMALL_MAX_EXTENT)
        return fail(layer, SMALL_ERR_PARAM, "stride %dx%d: more than %lld", d->stride_h, d->stride_w,
                    (long long)SMALL_MAX_EXTENT);
    /* The nest steps through the input by these products, along rows or (a transposed walk) along
     * columns: they must fit a 32-bit ptrdiff_t too. */
    const int64_t row_step = (int64_t)d->dilation_h * in.w * in.c, col_step = (int64_t)d->dilation_w * in.c;
    const int64_t pixel_step = (int64_t)d->stride_w * in.c, row_pixel_step = (int64_t)d->stride_h * in.w * in.c;
    if (row_step > INT_MAX || col_step > INT_MAX || pixel_step > INT_MAX || row_pixel_step > INT_MAX)
        return fail(layer, SMALL_ERR_SHAPE, "dilation %dx%d or stride %dx%d over a %dx%dx%d input steps past 2^31 floats",
                    d->dilation_h, d->dilation_w, d->stride_h, d->stride_w, in.h, in.w, in.c);
    small_status s;
    if ((s = resolve_axis(layer, "height", in.h, d->kernel_h, d->stride_h, d->dilation_h, d->pad_top,
                          d->pad_bottom, &layer->output.h, &layer->pad_top)))
        return s;
    return resolve_axis(layer, "width", in.w, d->kernel_w, d->stride_w, d->dilation_w, d->pad_left,
                        d->pad_right, &layer->output.w, &layer->pad_left);
}

/* Floats of weights: out_channels x taps x depth, or 0 when that overflows or passes the limit. */
static size_t weight_floats(int out_channels, int64_t taps, int64_t depth) {
    size_t n;
    if (taps < 1 || depth < 1 || __builtin_mul_overflow((size_t)out_channels, (size_t)taps, &n) ||
        __builtin_mul_overflow(n, (size_t)depth, &n) || n > SIZE_MAX / sizeof(float) - 64)
        return 0;
    return n;
}

/* Where the packed region's parts lie, in floats: the weights at 0, the bias at `weights`, a Winograd
 * layer's transformed weights (16 per 9 weights) at winograd_at (a multiple of 16: 64-byte aligned),
 * `floats` in all. 0 floats when that overflows. */
typedef struct {
    size_t weights, winograd_at, floats;
} packed_layout;

static packed_layout layout_of(int out_channels, int64_t taps, int64_t depth, int has_bias, int winograd) {
    packed_layout l = {weight_floats(out_channels, taps, depth), 0, 0};
    if (l.weights == 0) return l;
    l.floats = l.weights + (has_bias ? (size_t)out_channels : 0);
    if (winograd) {
        l.winograd_at = (l.floats + 15) / 16 * 16;
        if (l.weights > (SIZE_MAX / sizeof(float) - 64 - l.winograd_at) / 2) return (packed_layout){0, 0, 0};
        l.floats = l.winograd_at + l.weights / 9 * 16;
    }
    return l;
}

/* A borrowed layer (small_layer_plan_packed): its region must be exactly what pack() would make. While
 * planning, layer->bias is non-NULL when the region ends with a bias. */
static small_status borrow(small_layer *layer, int out_channels, int64_t taps, int64_t depth, int winograd) {
    const packed_layout l = layout_of(out_channels, taps, depth, layer->bias != NULL, winograd);
    const size_t bytes = l.floats * sizeof(float);
    if (l.floats == 0 || bytes != layer->packed_bytes)
        return fail(layer, SMALL_ERR_FORMAT, "pre-packed weights of %zu bytes; this build packs %zu", layer->packed_bytes,
                    bytes);
    layer->bias = layer->bias ? layer->packed + l.weights : NULL;
    layer->winograd_weights = winograd ? layer->packed + l.winograd_at : NULL;
    return SMALL_OK;
}

/* Allocates and fills layer->packed with weights packed for the layer's kernel, then the bias, then for
 * a Winograd layer the weights transformed. */
static small_status pack(small_layer *layer, const float *weights, const float *bias, int out_channels, int groups,
                         int64_t taps, int64_t depth, int winograd) {
    if (layer->packed_borrowed) return borrow(layer, out_channels, taps, depth, winograd);
    if (!weights) return fail(layer, SMALL_ERR_NULL, "weights are NULL");
    const packed_layout l = layout_of(out_channels, taps, depth, bias != NULL, winograd);
    const size_t n_weights = l.weights;
    const size_t bytes = l.floats * sizeof(float);
    if (l.floats == 0 || bytes > limits.max_weight_bytes)
        return fail(layer, SMALL_ERR_NOMEM, "%d x %lld x %lld weights: more than the limit of %zu bytes (small_set_limits)",
                    out_channels, (long long)taps, (long long)depth, limits.max_weight_bytes);
    /* Cache-line aligned, so that vector loads of a block's weight rows never straddle two lines. */
    layer->packed = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!layer->packed) return fail(layer, SMALL_ERR_NOMEM, "cannot allocate %zu bytes of weights", bytes);
    layer->packed_bytes = bytes;
    const small_kernel_choice k = small_layer_kernel_choice(layer);
    small_pack_weights(&k, weights, out_channels, groups, (int)taps, (int)depth, layer->packed);
    if (bias) {
        memcpy(layer->packed + n_weights, bias, (size_t)out_channels * sizeof(float));
        layer->bias = layer->packed + n_weights;
    }
    if (winograd) {
        float *transformed = layer->packed + l.winograd_at;
        small_pack_winograd(&k, weights, out_channels, (int)depth, transformed);
        layer->winograd_weights = transformed;
    }
    return SMALL_OK;
}

/* What layer_s8.c shares of the float plan: its refusals, window, kernel choice and limits. */
small_status small_layer_fail(small_layer *layer, small_status status, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    char text[sizeof layer->message];
    vsnprintf(text, sizeof text, fmt, args);
    va_end(args);
    return fail(layer, status, "%s", text);
}

small_status small_layer_check_window(small_layer *layer) { return check_window(layer, 0); }

small_status small_layer_pick_kernel(small_layer *layer, small_kernel_kind kind, int channels) {
    return pick_kernel_for(layer, kind, channels);
}

int small_layer_shape_ok(small_shape s) { return shape_ok(s); }

size_t small_layer_weight_elements(int out_channels, int64_t taps, int64_t depth) {
    return weight_floats(out_channels, taps, depth);
}

int small_layer_is_depthwise(const small_layer_desc *d) {
    return d->groups == d->inputs[0].c && d->out_channels == d->inputs[0].c;
}

/* A convolution whose one window is its whole input, unpadded and undilated, is a matrix-vector
 * product over the input flattened in HWC order, which is also the order of its OHWI weights. */
int small_layer_is_matvec_conv(const small_layer *layer) {
    const small_layer_desc *d = &layer->desc;
    const small_shape in = d->inputs[0];
    return d->groups == 1 && !small_layer_is_depthwise(d) && layer->output.h == 1 && layer->output.w == 1 &&
           layer->pad_top == 0 && layer->pad_left == 0 && d->kernel_h == in.h && d->kernel_w == in.w &&
           (in.h == 1 || d->dilation_h == 1) && (in.w == 1 || d->dilation_w == 1);
}

static small_status plan_conv(small_layer *layer, const float *weights, const float *bias) {
    const small_layer_desc *d = &layer->desc;
    const small_shape in = d->inputs[0];
    if (d->out_channels < 1) return fail(layer, SMALL_ERR_SHAPE, "%d output channels", d->out_channels);
    if (d->groups < 1 || in.c % d->groups || d->out_channels % d->groups)
        return fail(layer, SMALL_ERR_SHAPE, "%d groups do not divide %d input and %d output channels", d->groups,
                    in.c, d->out_channels);
    small_status s = check_window(layer, 0);
    if (s) return s;
    layer->output.c = d->out_channels;
    const int64_t taps = (int64_t)d->kernel_h * d->kernel_w;
    if (small_layer_is_depthwise(d)) {
        if ((s = pick_kernel(layer, SMALL_KERNEL_DWCONV))) return s;
        return pack(layer, weights, bias, d->out_channels, 1, taps, 1, 0);
    }
    if (small_layer_is_matvec_conv(layer)) {
        if ((s = pick_kernel(layer, SMALL_KERNEL_FC))) return s;
        return pack(layer, weights, bias, d->out_channels, 1, 1, taps * in.c, 0);
    }
    if ((s = pick_kernel_for(layer, SMALL_KERNEL_CONV, d->out_channels / d->groups))) return s;
    const small_nest n = small_lower(layer);
    const small_kernel_choice k = small_layer_kernel_choice(layer);
    return pack(layer, weights, bias, d->out_channels, d->groups, taps, in.c / d->groups, small_winograd_applies(&n, &k));
}

static small_status plan_op(small_layer *layer, const float *weights, const float *bias) {
    const small_layer_desc *d = &layer->desc;
    const small_shape in = d->inputs[0];
    layer->output = in;
    switch (d->op) {
    case SMALL_OP_CONV2D: return plan_conv(layer, weights, bias);
    case SMALL_OP_MAXPOOL:
    case SMALL_OP_AVGPOOL: {
        small_status s = pick_kernel(layer, d->op == SMALL_OP_MAXPOOL ? SMALL_KERNEL_MAXPOOL : SMALL_KERNEL_AVGPOOL);
        return s ? s : check_window(layer, 1);
    }
    case SMALL_OP_GLOBAL_AVGPOOL:
        layer->output.h = layer->output.w = 1;
        return pick_kernel(layer, SMALL_KERNEL_AVGPOOL);
    case SMALL_OP_FULLY_CONNECTED: {
        if (d->out_channels < 1) return fail(layer, SMALL_ERR_SHAPE, "%d output channels", d->out_channels);
        layer->output = (small_shape){1, 1, d->out_channels};
        small_status s = pick_kernel(layer, SMALL_KERNEL_FC);
        return s ? s : pack(layer, weights, bias, d->out_channels, 1, 1, (int64_t)small_shape_size(in), 0);
    }
    case SMALL_OP_ADD:
        if (memcmp(&d->inputs[0], &d->inputs[1], sizeof(small_shape)))
            return fail(layer, SMALL_ERR_SHAPE, "input shapes %dx%dx%d and %dx%dx%d differ", in.h, in.w, in.c,
                        d->inputs[1].h, d->inputs[1].w, d->inputs[1].c);
        return pick_kernel(layer, SMALL_KERNEL_ADD);
    case SMALL_OP_ACTIVATION: return pick_kernel(layer, SMALL_KERNEL_COPY);
    case SMALL_OP_SOFTMAX: return pick_kernel(layer, SMALL_KERNEL_SOFTMAX);
    case SMALL_OP_CONCAT:
        for (int i = 1; i < d->n_inputs; ++i) {
            if (d->inputs[i].h != in.h || d->inputs[i].w != in.w)
                return fail(layer, SMALL_ERR_SHAPE, "input %d is %dx%d, input 0 is %dx%d", i, d->inputs[i].h,
                            d->inputs[i].w, in.h, in.w);
            if ((int64_t)layer->output.c + d->inputs[i].c > INT_MAX)
                return fail(layer, SMALL_ERR_SHAPE, "too many channels");
            layer->output.c += d->inputs[i].c;
        }
        return pick_kernel(layer, SMALL_KERNEL_COPY);
    case SMALL_OP_RESHAPE:
        if (!shape_ok(d->reshape_to) || small_shape_size(d->reshape_to) != small_shape_size(in))
            return fail(layer, SMALL_ERR_SHAPE, "cannot reshape %dx%dx%d to %dx%dx%d", in.h, in.w, in.c,
                        d->reshape_to.h, d->reshape_to.w, d->reshape_to.c);
        layer->output = d->reshape_to;
        return pick_kernel(layer, SMALL_KERNEL_COPY);
    default: return fail(layer, SMALL_ERR_PARAM, "unknown op %d", (int)d->op);
    }
}

static int expected_inputs(small_op op, int n) {
    if (op == SMALL_OP_ADD) return n == 2;
    if (op == SMALL_OP_CONCAT) return n >= 1 && n <= SMALL_MAX_INPUTS;
    return n == 1;
}

small_status small_layer_plan_end(small_layer *layer, small_status s) {
    if (s == SMALL_OK && !shape_ok(layer->output))
        s = fail(layer, SMALL_ERR_SHAPE, "output shape %dx%dx%d", layer->output.h, layer->output.w, layer->output.c);
    if (s != SMALL_OK) {
        char message[sizeof layer->message];
        memcpy(message, layer->message, sizeof message);
        small_layer_release(layer);
        memcpy(layer->message, message, sizeof message);
    }
    return s;
}

static small_status plan(small_layer *layer, const small_layer_desc *desc, const float *weights, const float *bias,
                         const float *packed, size_t packed_bytes, int has_bias) {
    if (!layer) return SMALL_ERR_NULL;
    memset(layer, 0, sizeof *layer);
    if (!desc) return fail(layer, SMALL_ERR_NULL, "descriptor is NULL");
    layer->desc = *desc;
    if (packed) {
        layer->packed = (float *)packed; /* never written: kernels read weights through const pointers */
        layer->packed_bytes = packed_bytes;
        layer->packed_borrowed = 1;
        layer->bias = has_bias ? packed : NULL;
    }
    if ((unsigned)desc->op >= SMALL_OP_COUNT_) return fail(layer, SMALL_ERR_PARAM, "unknown op %d", (int)desc->op);
    if (!expected_inputs(desc->op, desc->n_inputs))
        return fail(layer, SMALL_ERR_PARAM, "%d inputs", desc->n_inputs);
    for (int i = 0; i < desc->n_inputs; ++i)
        if (!shape_ok(desc->inputs[i]))
            return fail(layer, SMALL_ERR_SHAPE, "input %d has shape %dx%dx%d", i, desc->inputs[i].h,
                        desc->inputs[i].w, desc->inputs[i].c);
    if ((unsigned)desc->activation > SMALL_ACT_LEAKY_RELU)
        return fail(layer, SMALL_ERR_PARAM, "unknown activation %d", (int)desc->activation);
    small_status s = plan_op(layer, weights, bias);
    if (s == SMALL_OK && layer->packed_borrowed && small_layer_weight_count(desc) == 0)
        s = fail(layer, SMALL_ERR_FORMAT, "pre-packed weights for an op that has none");
    return small_layer_plan_end(layer, s);
}

small_status small_layer_plan(small_layer *layer, const small_layer_desc *desc, const float *weights,
                              const float *bias) {
    return plan(layer, desc, weights, bias, NULL, 0, 0);
}

small_status small_layer_plan_packed(small_layer *layer, const small_layer_desc *desc, const float *packed,
                                     size_t packed_bytes, int has_bias) {
    if (!packed) {
        if (layer) memset(layer, 0, sizeof *layer);
        return layer ? fail(layer, SMALL_ERR_NULL, "pre-packed weights are NULL") : SMALL_ERR_NULL;
    }
    return plan(layer, desc, NULL, NULL, packed, packed_bytes, has_bias);
}

size_t small_layer_weight_count(const small_layer_desc *d) {
    if (!d || d->n_inputs < 1 || d->out_channels < 1 || !shape_ok(d->inputs[0])) return 0;
    if (d->op == SMALL_OP_FULLY_CONNECTED) return weight_floats(d->out_channels, 1, (int64_t)small_shape_size(d->inputs[0]));
    if (d->op != SMALL_OP_CONV2D || d->groups < 1 || d->inputs[0].c % d->groups || d->kernel_h < 1 || d->kernel_w < 1)
        return 0;
    return weight_floats(d->out_channels, (int64_t)d->kernel_h * d->kernel_w, d->inputs[0].c / d->groups);
}

size_t small_layer_bias_count(const small_layer_desc *d) {
    if (!d || d->out_channels < 1) return 0;
    return d->op == SMALL_OP_CONV2D || d->op == SMALL_OP_FULLY_CONNECTED ? (size_t)d->out_channels : 0;
}

void small_layer_release(small_layer *layer) {
    if (!layer) return;
    if (!layer->packed_borrowed) free(layer->packed);
    memset(layer, 0, sizeof *layer);
}

small_status small_layer_run(const small_layer *layer, const float *const *inputs, float *output) {
    if (!layer || !inputs || !output) return SMALL_ERR_NULL;
    if (!layer->kernel || layer->kernel->run_s8) return SMALL_ERR_PARAM; /* not planned, plan failed, or int8 */
    for (int i = 0; i < layer->desc.n_inputs; ++i)
        if (!inputs[i]) return SMALL_ERR_NULL;
    small_prepared_layer p;
    small_prepare_layer(layer, &p);
    const int threads = small_pool_enter();
    small_run_prepared(layer, &p, inputs, output, threads);
    small_pool_leave(threads);
    return SMALL_OK;
}
