/* int8 layers (small_layer_plan_s8, small_layer_run_s8): TFLite's quantization spec, bit-exact with
 * LiteRT's reference kernels (tests/reference_int8.py is the model of their arithmetic). A layer is
 * checked and its window resolved as a float one is (layer.c), lowered to the same nest (its int8
 * members: nest.h), planned by the same plan, and walked by the int8 instance of the same walk
 * (nest_s8.c). What is int8's own: the quantization parameters, turned at plan time into what the
 * kernels' epilogue needs per channel (small_s8_channel: the multiplier and shift, or the FC's double
 * scale, and the bias) and per layer (small_s8_params: zero points and the activation's clamp). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lower.h"
#include "threads.h"

/* The packed region: the int8 weights (small_pack_weights_s8's layout), then at the next multiple of 64
 * bytes the layer's small_s8_params (in 8 bytes), then a small_s8_channel per output channel. */
typedef struct {
    size_t weights, params_at, requant_at, bytes;
} s8_layout;

static s8_layout layout_s8(size_t weights, int out_channels) {
    s8_layout l = {weights, (weights + 63) / 64 * 64, 0, 0};
    l.requant_at = l.params_at + 8;
    l.bytes = l.requant_at + (size_t)out_channels * sizeof(small_s8_channel);
    return l;
}

/* QuantizeMultiplier (TFLite's quantization_util.cc): (q, shift) with m = q * 2^(shift - 31), q in
 * [2^30, 2^31), frexp's fraction times 2^31 rounded half away from zero; a fraction that rounds up to
 * 2^31 is halved; below about 2^-32 (shift < -31) it flushes to (0, 0). */
static void quantize_multiplier(double m, int32_t *q, int32_t *shift) {
    if (m == 0.0) {
        *q = *shift = 0;
        return;
    }
    int exponent;
    const double fraction = frexp(m, &exponent);
    long long fixed = (long long)round(fraction * 2147483648.0); /* exact: a power-of-two scaling */
    if (fixed == (1ll << 31)) {
        fixed /= 2;
        ++exponent;
    }
    if (exponent < -31) fixed = exponent = 0;
    *q = (int32_t)fixed;
    *shift = exponent;
}

/* CalculateActivationRangeQuantized's bound: zero point + roundf(value / scale), in float, as TFLite's
 * Quantize; saturated (a tiny scale puts it far outside int8, where the clamp takes 127 or -128). */
static int quantize_bound(float value, float scale, int zero) {
    const float q = roundf(value / scale);
    return zero + (q > 1e6f ? 1000000 : q < -1e6f ? -1000000 : (int)q);
}

static int8_t clamp8(int v) { return (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v); }

static small_status check_quant(small_layer *layer, const small_quant *q) {
    if (!q) return small_layer_fail(layer, SMALL_ERR_NULL, "quantization parameters are NULL");
    if (!(q->input_scale > 0.0f && isfinite(q->input_scale)) || !(q->output_scale > 0.0f && isfinite(q->output_scale)))
        return small_layer_fail(layer, SMALL_ERR_PARAM, "scales %g (input), %g (output) must be positive and finite",
                                (double)q->input_scale, (double)q->output_scale);
    if (q->input_zero_point < -128 || q->input_zero_point > 127 || q->output_zero_point < -128 ||
        q->output_zero_point > 127)
        return small_layer_fail(layer, SMALL_ERR_PARAM, "zero points %d (input), %d (output) outside -128..127",
                                q->input_zero_point, q->output_zero_point);
    if (!q->weight_scales) return small_layer_fail(layer, SMALL_ERR_NULL, "weight scales are NULL");
    if (q->n_weight_scales != 1 && q->n_weight_scales != layer->desc.out_channels)
        return small_layer_fail(layer, SMALL_ERR_PARAM, "%d weight scales for %d output channels: 1 or one each",
                                q->n_weight_scales, layer->desc.out_channels);
    for (int c = 0; c < q->n_weight_scales; ++c)
        if (!(q->weight_scales[c] > 0.0f && isfinite(q->weight_scales[c])))
            return small_layer_fail(layer, SMALL_ERR_PARAM, "weight scale %d is %g: must be positive and finite", c,
                                    (double)q->weight_scales[c]);
    return SMALL_OK;
}

/* The layer-wide epilogue: zero points and the fused activation's clamp. */
static small_s8_params params_of(const small_quant *q, small_activation activation) {
    const float s = q->output_scale;
    const int z = q->output_zero_point;
    small_s8_params p = {(int8_t)q->input_zero_point, (int8_t)z, -128, 127};
    if (activation == SMALL_ACT_RELU || activation == SMALL_ACT_RELU6) p.y_min = clamp8(quantize_bound(0.0f, s, z));
    if (activation == SMALL_ACT_RELU6) p.y_max = clamp8(quantize_bound(6.0f, s, z));
    if (activation == SMALL_ACT_RELU_N1_TO_1) {
        p.y_min = clamp8(quantize_bound(-1.0f, s, z));
        p.y_max = clamp8(quantize_bound(1.0f, s, z));
    }
    return p;
}

/* Packs the weights for the layer's kernel, and makes the epilogue's records: per channel the bias, the
 * sum of its weights, and the requantization (FC: in double, the input's zero point folded into the
 * bias; else QuantizeMultiplier of (double)input_scale * (double)weight_scale / (double)output_scale,
 * as PopulateConvolutionQuantizationParams computes it). */
static small_status pack_s8(small_layer *layer, const small_quant *q, const int8_t *weights, const int32_t *bias,
                            int groups, int64_t taps, int64_t depth, int fc) {
    const int out = layer->desc.out_channels;
    if (!weights) return small_layer_fail(layer, SMALL_ERR_NULL, "weights are NULL");
    const size_t n = small_layer_weight_elements(out, taps, depth);
    const s8_layout l = layout_s8(n, out);
    if (n == 0 || l.bytes > small_get_limits().max_weight_bytes)
        return small_layer_fail(layer, SMALL_ERR_NOMEM, "%d x %lld x %lld weights: more than the limit of %zu bytes",
                                out, (long long)taps, (long long)depth, small_get_limits().max_weight_bytes);
    unsigned char *packed = aligned_alloc(64, (l.bytes + 63) / 64 * 64);
    if (!packed) return small_layer_fail(layer, SMALL_ERR_NOMEM, "cannot allocate %zu bytes of weights", l.bytes);
    layer->packed = (float *)(void *)packed; /* bytes: the kernel's run_s8 says so */
    layer->packed_bytes = l.bytes;
    const small_kernel_choice k = small_layer_kernel_choice(layer);
    small_pack_weights_s8(&k, weights, out, groups, (int)taps, (int)depth, (int8_t *)packed);
    const small_s8_params params = params_of(q, layer->desc.activation);
    memcpy(packed + l.params_at, &params, sizeof params);
    small_s8_channel *requant = (small_s8_channel *)(void *)(packed + l.requant_at);
    const size_t per_channel = (size_t)taps * (size_t)depth;
    for (int c = 0; c < out; ++c) {
        int64_t sum = 0;
        for (size_t i = 0; i < per_channel; ++i) sum += weights[(size_t)c * per_channel + i];
        const double scale = (double)q->input_scale * (double)q->weight_scales[q->n_weight_scales == 1 ? 0 : c] /
                             (double)q->output_scale;
        small_s8_channel r = {.bias = bias ? bias[c] : 0, .weight_sum = (int32_t)(uint32_t)(uint64_t)sum};
        if (fc) {
            r.scale = scale;
            r.bias = (int32_t)((uint32_t)r.bias - (uint32_t)q->input_zero_point * (uint32_t)r.weight_sum);
        } else {
            quantize_multiplier(scale, &r.multiplier, &r.shift);
        }
        requant[c] = r;
    }
    return SMALL_OK;
}

static small_status plan_s8(small_layer *layer, const small_layer_desc *desc, const small_quant *q,
                            const int8_t *weights, const int32_t *bias) {
    if (!desc) return small_layer_fail(layer, SMALL_ERR_NULL, "descriptor is NULL");
    layer->desc = *desc;
    const small_layer_desc *d = &layer->desc;
    if (d->op != SMALL_OP_CONV2D && d->op != SMALL_OP_FULLY_CONNECTED)
        return small_layer_fail(layer, SMALL_ERR_UNSUPPORTED, "no int8 kernel for op %d", (int)d->op);
    if (d->n_inputs != 1) return small_layer_fail(layer, SMALL_ERR_PARAM, "%d inputs", d->n_inputs);
    const small_shape in = d->inputs[0];
    if (!small_layer_shape_ok(in))
        return small_layer_fail(layer, SMALL_ERR_SHAPE, "input 0 has shape %dx%dx%d", in.h, in.w, in.c);
    if (d->activation != SMALL_ACT_NONE && d->activation != SMALL_ACT_RELU && d->activation != SMALL_ACT_RELU6 &&
        d->activation != SMALL_ACT_RELU_N1_TO_1)
        return small_layer_fail(layer, SMALL_ERR_UNSUPPORTED, "activation %d on int8", (int)d->activation);
    if (d->out_channels < 1) return small_layer_fail(layer, SMALL_ERR_SHAPE, "%d output channels", d->out_channels);
    small_status s = check_quant(layer, q);
    if (s) return s;
    if (d->op == SMALL_OP_FULLY_CONNECTED) {
        layer->output = (small_shape){1, 1, d->out_channels};
        if ((s = small_layer_pick_kernel(layer, SMALL_KERNEL_S8_FC, 0))) return s;
        return pack_s8(layer, q, weights, bias, 1, 1, (int64_t)small_shape_size(in), 1);
    }
    if (d->groups < 1 || in.c % d->groups || d->out_channels % d->groups)
        return small_layer_fail(layer, SMALL_ERR_SHAPE, "%d groups do not divide %d input and %d output channels",
                                d->groups, in.c, d->out_channels);
    if ((s = small_layer_check_window(layer))) return s;
    layer->output.c = d->out_channels;
    const int64_t taps = (int64_t)d->kernel_h * d->kernel_w;
    /* Never the FC kind, unlike a float conv of one window over its whole input: int8 FC requantizes in
     * double, conv in fixed point, and the results differ. */
    if (small_layer_is_depthwise(d)) {
        if ((s = small_layer_pick_kernel(layer, SMALL_KERNEL_S8_DWCONV, 0))) return s;
        return pack_s8(layer, q, weights, bias, 1, taps, 1, 0);
    }
    if ((s = small_layer_pick_kernel(layer, SMALL_KERNEL_S8_CONV, d->out_channels / d->groups))) return s;
    return pack_s8(layer, q, weights, bias, d->groups, taps, in.c / d->groups, 0);
}

small_status small_layer_plan_s8(small_layer *layer, const small_layer_desc *desc, const small_quant *quant,
                                 const int8_t *weights, const int32_t *bias) {
    if (!layer) return SMALL_ERR_NULL;
    memset(layer, 0, sizeof *layer);
    return small_layer_plan_end(layer, plan_s8(layer, desc, quant, weights, bias));
}

/* The int8 layer as an instance of the nest: small_lower's geometry, the int8 members, found in the packed
 * region from its end (layout_s8). */
static small_nest lower_s8(const small_layer *layer) {
    small_nest n = small_lower(layer);
    const unsigned char *packed = (const unsigned char *)(const void *)layer->packed;
    const size_t requant_at = layer->packed_bytes - (size_t)layer->desc.out_channels * sizeof(small_s8_channel);
    n.weights_s8 = (const int8_t *)packed;
    memcpy(&n.s8, packed + requant_at - 8, sizeof n.s8); /* the params' 8 bytes come just before */
    n.requant = (const small_s8_channel *)(const void *)(packed + requant_at);
    n.activation = SMALL_ACT_NONE; /* the clamp is in n.s8 */
    return n;
}

small_status small_layer_run_s8(const small_layer *layer, const int8_t *const *inputs, int8_t *output) {
    if (!layer || !inputs || !output) return SMALL_ERR_NULL;
    if (!layer->kernel || !layer->kernel->run_s8) return SMALL_ERR_PARAM; /* not planned, failed, or float */
    if (!inputs[0]) return SMALL_ERR_NULL;
    const small_nest n = lower_s8(layer);
    const small_kernel_choice k = small_layer_kernel_choice(layer);
    small_nest_plan p;
    small_nest_plan_make(&p, &n, &k);
    const int threads = small_pool_enter();
    small_nest_walk_run_s8(&p, &n, &k, inputs[0], NULL, output, threads);
    small_pool_leave(threads);
    return SMALL_OK;
}
