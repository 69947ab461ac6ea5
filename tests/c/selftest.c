/* A self-contained check of the library for ctest, without the Python harness: a few layers of
 * each op against direct double-precision loops written here, and the error codes of bad
 * parameters. The full sweep lives in the pytest suite. Prints "N passed, N failed". */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concurrency.h"
#include "model_builder.h"
#include "small.h"

static int passed, failed;

static void check(int ok, const char *what) {
    if (ok) ++passed;
    else {
        ++failed;
        printf("FAIL: %s\n", what);
    }
}

static unsigned rng_state = 12345u;
static float uniform(void) { /* [-1, 1) */
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) & 0xffffff) / 8388608.0f - 1.0f;
}
static float *random_floats(size_t n) {
    float *p = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; ++i) p[i] = uniform();
    return p;
}

/* Direct conv2d in double; explicit padding only (SAME is resolved by the caller). */
static void conv_direct(const float *x, small_shape in, const float *w, const float *b, int out_c, int kh, int kw,
                        int sh, int sw, int dh, int dw, int pt, int pl, int groups, small_shape out, double *y,
                        double *bound) {
    const int cin_g = in.c / groups, cout_g = out_c / groups;
    for (int oh = 0; oh < out.h; ++oh)
        for (int ow = 0; ow < out.w; ++ow)
            for (int co = 0; co < out_c; ++co) {
                const int g = co / cout_g;
                double acc = b ? b[co] : 0, mag = b ? fabs(b[co]) : 0;
                for (int i = 0; i < kh; ++i)
                    for (int j = 0; j < kw; ++j) {
                        const int ih = oh * sh - pt + i * dh, iw = ow * sw - pl + j * dw;
                        if (ih < 0 || ih >= in.h || iw < 0 || iw >= in.w) continue;
                        for (int k = 0; k < cin_g; ++k) {
                            const double p = (double)x[(ih * in.w + iw) * in.c + g * cin_g + k] *
                                             w[((co * kh + i) * kw + j) * cin_g + k];
                            acc += p;
                            mag += fabs(p);
                        }
                    }
                y[(oh * out.w + ow) * out_c + co] = acc;
                bound[(oh * out.w + ow) * out_c + co] = 4 * 1.1920929e-07 * mag + 1e-30;
            }
}

static int close_enough(const float *got, const double *want, const double *bound, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (!(fabs(got[i] - want[i]) <= bound[i])) return 0;
    return 1;
}

static void conv_case(int h, int w, int c, int out_c, int k, int stride, int dil, int pad, int groups) {
    small_layer_desc d = small_layer_desc_default(SMALL_OP_CONV2D);
    d.inputs[0] = (small_shape){h, w, c};
    d.out_channels = out_c;
    d.kernel_h = d.kernel_w = k;
    d.stride_h = d.stride_w = stride;
    d.dilation_h = d.dilation_w = dil;
    d.padding = SMALL_PAD_EXPLICIT;
    d.pad_top = d.pad_bottom = d.pad_left = d.pad_right = pad;
    d.groups = groups;
    float *x = random_floats((size_t)h * w * c), *wt = random_floats((size_t)out_c * k * k * (c / groups)),
          *b = random_floats((size_t)out_c);
    small_layer L;
    char what[128];
    snprintf(what, sizeof what, "conv %dx%dx%d -> %d, k%d s%d d%d p%d g%d", h, w, c, out_c, k, stride, dil, pad, groups);
    if (small_layer_plan(&L, &d, wt, b) != SMALL_OK) {
        check(0, what);
    } else {
        size_t n = small_shape_size(L.output);
        float *y = malloc(n * sizeof(float));
        double *ref = malloc(n * sizeof(double)), *bound = malloc(n * sizeof(double));
        const float *inputs[1] = {x};
        conv_direct(x, d.inputs[0], wt, b, out_c, k, k, stride, stride, dil, dil, pad, pad, groups, L.output, ref, bound);
        check(small_layer_run(&L, inputs, y) == SMALL_OK && close_enough(y, ref, bound, n), what);
        free(y), free(ref), free(bound);
    }
    small_layer_release(&L);
    free(x), free(wt), free(b);
}

static void softmax_case(void) {
    small_layer_desc d = small_layer_desc_default(SMALL_OP_SOFTMAX);
    d.inputs[0] = (small_shape){1, 1, 10};
    float x[10], y[10];
    for (int i = 0; i < 10; ++i) x[i] = 100.0f * uniform(); /* large logits: needs the stable form */
    double max = x[0], sum = 0;
    for (int i = 1; i < 10; ++i) max = x[i] > max ? x[i] : max;
    for (int i = 0; i < 10; ++i) sum += exp(x[i] - max);
    small_layer L;
    const float *inputs[1] = {x};
    int ok = small_layer_plan(&L, &d, NULL, NULL) == SMALL_OK && small_layer_run(&L, inputs, y) == SMALL_OK;
    for (int i = 0; ok && i < 10; ++i) ok = fabs(y[i] - exp(x[i] - max) / sum) <= 1e-5 * (exp(x[i] - max) / sum) + 1e-30;
    check(ok, "softmax of large logits");
    small_layer_release(&L);
}

static void expect_error(small_layer_desc d, small_status want, const char *what) {
    float w[64] = {0};
    small_layer L;
    small_status got = small_layer_plan(&L, &d, w, NULL);
    check(got == want && L.message[0] != '\0', what);
    if (got != want) printf("  got %s (%s)\n", small_status_name(got), L.message);
    small_layer_release(&L);
}

/* A direct max pool of one 8x7 channel: a window of 8 x 33 with SAME padding and the given strides
 * covers the whole input at its one output pixel. */
static void pool_stride_cases(void) {
    small_layer_desc d = small_layer_desc_default(SMALL_OP_MAXPOOL);
    d.inputs[0] = (small_shape){8, 7, 1};
    d.kernel_h = 8, d.kernel_w = 33, d.padding = SMALL_PAD_SAME;
    d.stride_h = 8, d.stride_w = INT_MAX; /* once: ceil_div overflowed, and the pool read 52 bytes before x */
    expect_error(d, SMALL_ERR_PARAM, "max pool of stride 8 x INT_MAX: refused");
    d.stride_w = INT_MAX / 2; /* the largest stride taken: one output pixel, the whole input's maximum */
    float *x = random_floats(8 * 7), y[1] = {0};
    small_layer L;
    const float *inputs[1] = {x};
    int ok = small_layer_plan(&L, &d, NULL, NULL) == SMALL_OK && L.output.h == 1 && L.output.w == 1 &&
             small_layer_run(&L, inputs, y) == SMALL_OK;
    float most = x[0];
    for (int i = 1; i < 8 * 7; ++i) most = x[i] > most ? x[i] : most;
    ok = ok && y[0] == most;
    check(ok, "max pool of stride 8 x (INT_MAX / 2): the whole input's maximum");
    small_layer_release(&L);
    free(x);
}

/* The chain takes any number of names: a table named again is already in it. */
static void kernel_chain_cases(void) {
    char first[32] = "", spec[32 * 20] = "", want[64];
    snprintf(first, sizeof first, "%.*s", (int)strcspn(small_kernel_isas(), " "), small_kernel_isas());
    for (int i = 0; i < 20; ++i) /* once: 16 entries wrote past the chain's array */
        snprintf(spec + strlen(spec), sizeof spec - strlen(spec), "%s%s", i ? "," : "", first);
    small_message why;
    snprintf(want, sizeof want, strcmp(first, "ref") ? "%s ref" : "%s", first);
    check(small_select_kernels(spec, &why) == SMALL_OK && !strcmp(small_selected_kernels(), want),
          "20 names of one kernel table: a chain of it (and ref's)");
    check(small_select_kernels("ref,ref,ref,ref,ref,ref,ref,ref,ref,ref,ref,ref,ref,ref,ref,ref,ref", &why) == SMALL_OK &&
          !strcmp(small_selected_kernels(), "ref"), "17 names of ref: a chain of ref's alone");
    small_select_kernels(getenv("SMALL_KERNELS"), NULL); /* the variant's chain again */
}

/* The model API's edges, on a model written here. */
static void model_cases(void) {
    model_builder b = {.seed = 3};
    int t = mb_tensor(&b, 6, 5, 4);
    small_layer_desc d = small_layer_desc_default(SMALL_OP_CONV2D);
    d.out_channels = 8, d.kernel_h = d.kernel_w = 3, d.padding = SMALL_PAD_SAME;
    t = mb_layer(&b, d, &t, 1, (small_shape){6, 5, 8});
    t = mb_layer(&b, small_layer_desc_default(SMALL_OP_GLOBAL_AVGPOOL), &t, 1, (small_shape){1, 1, 8});
    size_t size, needed = 0;
    unsigned char *file = mb_write(&b, 0, t, &size);
    small_model *model = NULL;
    small_message why;
    check(small_model_load(&model, file, size, &why) == SMALL_OK, "a written model loads");
    /* Once: a 32-byte `original` was read for its whole tables, 1,656 bytes past it. */
    check(small_model_write_packed(model, file, 32, NULL, &needed) == SMALL_ERR_PARAM,
          "write_packed refuses an original shorter than its tables");
    check(small_model_write_packed(model, file, size, NULL, &needed) == SMALL_OK && needed > 0,
          "write_packed gives the size it needs");
    unsigned char *packed = aligned_alloc(64, (needed + 63) / 64 * 64);
    size_t written = needed - 4;
    check(small_model_write_packed(model, file, size, packed, &written) == SMALL_ERR_NOMEM,
          "write_packed refuses a buffer 4 bytes short");
    written = needed;
    small_model *from_packed = NULL;
    check(small_model_write_packed(model, file, size, packed, &written) == SMALL_OK && written == needed &&
          small_model_load(&from_packed, packed, written, &why) == SMALL_OK,
          "a pre-packed model loads");
    small_model_free(from_packed);
    packed[written - 1] ^= 1; /* the last weight's last byte */
    from_packed = (small_model *)packed;
    check(small_model_load(&from_packed, packed, written, &why) == SMALL_ERR_FORMAT && !from_packed &&
          strstr(why.text, "checksum"), "a pre-packed model with a damaged weight is refused by its checksum");
    small_model_free(model);
    free(packed);
    free(file);
}

int main(void) {
    conv_case(5, 7, 3, 4, 3, 1, 1, 1, 1);
    conv_case(9, 6, 4, 6, 3, 2, 1, 1, 2);
    conv_case(8, 8, 5, 5, 3, 1, 2, 2, 5);  /* depthwise, dilated */
    conv_case(6, 11, 2, 9, 5, 3, 1, 2, 1);
    conv_case(4, 4, 17, 3, 1, 1, 1, 0, 1);
    conv_case(4, 4, 2, 3, 41, 1, 1, 20, 1); /* a window ten times the input, nearly all padding */
    conv_case(4, 5, 3, 3, 3, 1, 4, 4, 3);   /* depthwise, dilated past the input on every side */
    conv_case(3, 55, 3, 5, 3, 1, 1, 1, 1);  /* rows of several pixel tiles on every ISA (whole_rows) */
    conv_case(3, 55, 6, 6, 3, 1, 1, 1, 6);
    softmax_case();

    small_layer_desc d = small_layer_desc_default(SMALL_OP_CONV2D);
    d.inputs[0] = (small_shape){4, 4, 2};
    d.out_channels = 2;
    d.kernel_h = d.kernel_w = 3;
    small_layer_desc bad = d;
    bad.inputs[0].c = 0;
    expect_error(bad, SMALL_ERR_SHAPE, "zero input channels");
    bad = d, bad.out_channels = 0;
    expect_error(bad, SMALL_ERR_SHAPE, "zero output channels");
    bad = d, bad.stride_w = 0;
    expect_error(bad, SMALL_ERR_PARAM, "stride 0");
    bad = d, bad.kernel_h = 5;
    expect_error(bad, SMALL_ERR_SHAPE, "kernel larger than the input");
    bad = d, bad.groups = 3;
    expect_error(bad, SMALL_ERR_SHAPE, "groups not dividing channels");
    bad = small_layer_desc_default(SMALL_OP_ADD);
    bad.n_inputs = 2;
    bad.inputs[0] = (small_shape){2, 2, 3};
    bad.inputs[1] = (small_shape){2, 2, 4};
    expect_error(bad, SMALL_ERR_SHAPE, "add of mismatched shapes");
    /* Descriptors whose sizes once wrapped in int and planned fine, then crashed at run time. */
    bad = d, bad.padding = SMALL_PAD_SAME, bad.kernel_h = bad.kernel_w = 65536;
    expect_error(bad, SMALL_ERR_NOMEM, "SAME kernel of 65536x65536 on a 4x4 input: 2^33 weights, over the limit");
    bad = d, bad.dilation_h = bad.dilation_w = INT_MAX;
    expect_error(bad, SMALL_ERR_SHAPE, "dilation INT_MAX");
    bad = d, bad.padding = SMALL_PAD_EXPLICIT, bad.pad_top = bad.pad_bottom = INT_MAX;
    expect_error(bad, SMALL_ERR_SHAPE, "explicit padding INT_MAX");
    bad = d, bad.inputs[0] = (small_shape){65536, 65536, 2}, bad.kernel_h = bad.kernel_w = 1;
    expect_error(bad, SMALL_ERR_SHAPE, "an input of 2^33 elements");
    bad = d, bad.out_channels = 1 << 30, bad.kernel_h = bad.kernel_w = 1;
    expect_error(bad, SMALL_ERR_NOMEM, "2^31 weights, over the weight limit");
    check(small_shape_size((small_shape){INT_MAX, INT_MAX, INT_MAX}) == SIZE_MAX, "shape size saturates");
    check(small_layer_plan(NULL, &d, NULL, NULL) == SMALL_ERR_NULL, "NULL layer");
    small_layer L;
    check(small_layer_plan(&L, &d, NULL, NULL) == SMALL_ERR_NULL, "NULL weights");
    check(small_layer_run(&L, NULL, NULL) == SMALL_ERR_NULL, "run with NULL tensors");

    /* The model loader refuses what is not a model, with a reason, and leaves no model behind. */
    static unsigned int garbage[64];
    for (int i = 0; i < 64; ++i) garbage[i] = 0x9e3779b9u * (unsigned)i;
    small_model *model = (small_model *)&garbage; /* must be reset to NULL on failure */
    small_message why;
    check(small_model_load(&model, garbage, sizeof garbage, &why) == SMALL_ERR_FORMAT && !model && why.text[0],
          "model loader refuses garbage");
    memcpy(garbage, "SMLM", 4); /* a header and nothing behind it: truncated */
    garbage[1] = 1; /* version */
    garbage[2] = 3; /* tensors */
    garbage[3] = 2; /* layers */
    check(small_model_load(&model, garbage, 32, &why) == SMALL_ERR_FORMAT && !model && why.text[0],
          "model loader refuses a truncated model");
    check(small_model_load(&model, (const char *)garbage + 1, 32, &why) == SMALL_ERR_FORMAT,
          "model loader refuses an unaligned buffer");
    check(small_model_load(&model, NULL, 0, &why) == SMALL_ERR_NULL, "model loader refuses NULL");

    /* Once undefined behaviour: Winograd's workspace sized in int for 2^26 + 2^26 channels, before the
     * weights were refused. */
    bad = d, bad.padding = SMALL_PAD_SAME, bad.inputs[0] = (small_shape){2, 2, 1 << 26}, bad.out_channels = 1 << 26;
    expect_error(bad, SMALL_ERR_NOMEM, "a 3x3 conv of 2^26 channels in and out: over the weight limit");
    pool_stride_cases();
    kernel_chain_cases();
    model_cases();
    concurrency_checks(check);

    printf("kernels %s: %d passed, %d failed\n", small_selected_kernels(), passed, failed);
    return failed ? 1 : 0;
}
