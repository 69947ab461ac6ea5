/* model_builder.h: writes small model files (lib/src/model_file.h's version 1) for the C tests, which
 * run without the Python harness. Weights and biases are random in [-1, 1). Header-only: the tests
 * are single files. */
#ifndef SMALL_TEST_MODEL_BUILDER_H
#define SMALL_TEST_MODEL_BUILDER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "small.h"

enum { MB_MAX_TENSORS = 32, MB_MAX_LAYERS = 32, MB_LAYER_WORDS = 28, MB_HEADER_WORDS = 8 };

typedef struct {
    int n_tensors, n_layers;
    int32_t tensors[MB_MAX_TENSORS][3];
    int32_t layers[MB_MAX_LAYERS][MB_LAYER_WORDS];
    float *blob;
    size_t blob_floats;
    unsigned seed;
} model_builder;

static inline float mb_uniform(model_builder *b) {
    b->seed = b->seed * 1664525u + 1013904223u;
    return (float)((b->seed >> 8) & 0xffffff) / 8388608.0f - 1.0f;
}

static inline int mb_tensor(model_builder *b, int h, int w, int c) {
    b->tensors[b->n_tensors][0] = h, b->tensors[b->n_tensors][1] = w, b->tensors[b->n_tensors][2] = c;
    return b->n_tensors++;
}

/* Floats appended to the blob (random), at their offset; -1 for none. */
static inline int32_t mb_floats(model_builder *b, size_t n) {
    if (n == 0) return -1;
    b->blob = realloc(b->blob, (b->blob_floats + n) * sizeof(float));
    for (size_t i = 0; i < n; ++i) b->blob[b->blob_floats + i] = mb_uniform(b);
    b->blob_floats += n;
    return (int32_t)(b->blob_floats - n);
}

/* A layer reading `inputs` (n of them) and writing a new tensor of shape out: the descriptor's fields
 * (its input shapes are the tensors'), with weights and a bias of the counts the library reads. */
static inline int mb_layer(model_builder *b, small_layer_desc d, const int *inputs, int n, small_shape out) {
    int32_t *w = b->layers[b->n_layers++];
    memset(w, 0, MB_LAYER_WORDS * sizeof *w);
    d.n_inputs = n;
    for (int i = 0; i < n; ++i) {
        const int32_t *t = b->tensors[inputs[i]];
        d.inputs[i] = (small_shape){t[0], t[1], t[2]};
        w[2 + i] = inputs[i];
    }
    const int output = mb_tensor(b, out.h, out.w, out.c);
    int32_t alpha_bits;
    memcpy(&alpha_bits, &d.alpha, 4);
    w[0] = (int32_t)d.op, w[1] = n, w[2 + SMALL_MAX_INPUTS] = output;
    const int32_t rest[] = {d.out_channels, d.groups, d.kernel_h, d.kernel_w, d.stride_h, d.stride_w,
                            d.dilation_h, d.dilation_w, (int32_t)d.padding, d.pad_top, d.pad_bottom,
                            d.pad_left, d.pad_right, (int32_t)d.activation, alpha_bits};
    memcpy(w + 3 + SMALL_MAX_INPUTS, rest, sizeof rest);
    w[26] = mb_floats(b, small_layer_weight_count(&d));
    w[27] = mb_floats(b, small_layer_bias_count(&d));
    return output;
}

static inline void mb_put(unsigned char *out, size_t index, int32_t value) { /* little-endian */
    const uint32_t v = (uint32_t)value;
    unsigned char *p = out + 4 * index;
    p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8), p[2] = (unsigned char)(v >> 16), p[3] = (unsigned char)(v >> 24);
}

/* The file, 64-byte aligned (free it with free()); sets *size. Frees the builder's blob. */
static inline unsigned char *mb_write(model_builder *b, int input, int output, size_t *size) {
    const size_t table_words = MB_HEADER_WORDS + 3 * (size_t)b->n_tensors + MB_LAYER_WORDS * (size_t)b->n_layers;
    const size_t weights_at = (4 * table_words + 15) / 16 * 16;
    *size = weights_at + 4 * b->blob_floats;
    unsigned char *out = aligned_alloc(64, (*size + 63) / 64 * 64);
    memset(out, 0, *size);
    memcpy(out, "SMLM", 4);
    const int32_t header[] = {1, b->n_tensors, b->n_layers, input, output, (int32_t)weights_at, (int32_t)b->blob_floats};
    for (int i = 0; i < 7; ++i) mb_put(out, 1 + (size_t)i, header[i]);
    size_t at = MB_HEADER_WORDS;
    for (int t = 0; t < b->n_tensors; ++t)
        for (int k = 0; k < 3; ++k) mb_put(out, at++, b->tensors[t][k]);
    for (int l = 0; l < b->n_layers; ++l)
        for (int k = 0; k < MB_LAYER_WORDS; ++k) mb_put(out, at++, b->layers[l][k]);
    for (size_t i = 0; i < b->blob_floats; ++i) {
        int32_t bits;
        memcpy(&bits, &b->blob[i], 4);
        mb_put(out + weights_at, i, bits);
    }
    free(b->blob);
    b->blob = NULL;
    return out;
}

#endif
