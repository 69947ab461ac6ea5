/* The model file format (model_file.h documents the layout): reading a file's header and tables,
 * its layers' descriptors and weights, the pre-packed version's checksum, and writing a pre-packed
 * file. Planning and running belong to model.c. */
#include "model_file.h"

#include <string.h>

#include "refuse.h"

int32_t small_file_word(const unsigned char *data, size_t index) {
    const unsigned char *b = data + 4 * index;
    return (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
}

void small_file_put_word(unsigned char *out, size_t index, int32_t value) {
    unsigned char *b = out + 4 * index;
    const uint32_t v = (uint32_t)value;
    b[0] = (unsigned char)v, b[1] = (unsigned char)(v >> 8), b[2] = (unsigned char)(v >> 16), b[3] = (unsigned char)(v >> 24);
}

/* ---- CRC-32 ------------------------------------------------------------------------------------
 * The reflected polynomial 0xEDB88320, as zlib.crc32 computes it. The byte table is made by the
 * preprocessor (eight shift-and-reduce steps per entry), so it is constant data, in flash on a
 * microcontroller; the three tables of the four-bytes-at-a-time loop are derived from it on the stack
 * (3 KiB, 768 steps) at each call, which then runs about twice as fast as a byte at a time. */
#define CRC_STEP(c) (((c) >> 1) ^ (0xEDB88320u & (0u - ((c) & 1u))))
#define CRC_BYTE(n) CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP((uint32_t)(n)))))))))
#define CRC_4(n) CRC_BYTE(n), CRC_BYTE((n) + 1), CRC_BYTE((n) + 2), CRC_BYTE((n) + 3)
#define CRC_16(n) CRC_4(n), CRC_4((n) + 4), CRC_4((n) + 8), CRC_4((n) + 12)
#define CRC_64(n) CRC_16(n), CRC_16((n) + 16), CRC_16((n) + 32), CRC_16((n) + 48)
static const uint32_t crc_table[256] = {CRC_64(0), CRC_64(64), CRC_64(128), CRC_64(192)};

uint32_t small_crc32(uint32_t crc, const void *data, size_t n) {
    const unsigned char *p = data;
    uint32_t t[3][256]; /* t[k][b]: byte b followed by k + 1 zero bytes */
    for (int b = 0; b < 256; ++b) {
        uint32_t c = crc_table[b];
        for (int k = 0; k < 3; ++k) t[k][b] = c = (c >> 8) ^ crc_table[c & 0xff];
    }
    crc = ~crc;
    for (; n >= 4; n -= 4, p += 4) {
        crc ^= (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        crc = t[2][crc & 0xff] ^ t[1][(crc >> 8) & 0xff] ^ t[0][(crc >> 16) & 0xff] ^ crc_table[crc >> 24];
    }
    for (; n; --n, ++p) crc = crc_table[(crc ^ *p) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* ---- Reading ----------------------------------------------------------------------------------- */

small_file_packed_layout small_file_packed_layout_of(int n_tensors, int n_layers) {
    small_file_packed_layout l;
    l.signatures_at = 4 * (SMALL_FILE_HEADER_WORDS + 3 * (size_t)n_tensors + (size_t)SMALL_FILE_LAYER_WORDS * n_layers);
    l.checksum_at = l.signatures_at + 4 * (size_t)SMALL_FILE_SIG_WORDS * n_layers;
    l.blob_at = (l.checksum_at + 4 + 63) / 64 * 64; /* the regions at multiples of 64 bytes */
    return l;
}

uint32_t small_file_packed_checksum(const unsigned char *data, size_t checksum_at, size_t end) {
    static const unsigned char zero[4] = {0, 0, 0, 0};
    uint32_t crc = small_crc32(0, data, checksum_at);
    crc = small_crc32(crc, zero, 4);
    return small_crc32(crc, data + checksum_at + 4, end - checksum_at - 4);
}

small_status small_file_open(small_file *f, const void *bytes, size_t size, small_message *why) {
    const unsigned char *data = bytes;
    memset(f, 0, sizeof *f);
    if (size < SMALL_FILE_HEADER_WORDS * 4 || memcmp(data, "SMLM", 4))
        return small_refuse(why, SMALL_ERR_FORMAT, "not a SMaLL model (no SMLM header; %zu bytes)", size);
    const int32_t version = small_file_word(data, 1);
    if (version == 2)
        return small_refuse(why, SMALL_ERR_FORMAT, "a pre-packed model of format version 2, which has no checksum: pack "
                      "it again with this library (version %d)", SMALL_FILE_VERSION_PACKED);
    if (version != SMALL_FILE_VERSION && version != SMALL_FILE_VERSION_PACKED)
        return small_refuse(why, SMALL_ERR_FORMAT, "model format version %d, this library reads %d and %d", version,
                      SMALL_FILE_VERSION, SMALL_FILE_VERSION_PACKED);
    f->data = data;
    f->packed = version == SMALL_FILE_VERSION_PACKED;
    f->n_tensors = small_file_word(data, 2);
    f->n_layers = small_file_word(data, 3);
    f->input = small_file_word(data, 4);
    f->output = small_file_word(data, 5);
    const int32_t weights_offset = small_file_word(data, 6), weights_count = small_file_word(data, 7);
    if (f->n_tensors < 2 || f->n_tensors > SMALL_FILE_MAX_TENSORS || f->n_layers < 1 ||
        f->n_layers > SMALL_FILE_MAX_TENSORS)
        return small_refuse(why, SMALL_ERR_FORMAT, "%d tensors and %d layers", f->n_tensors, f->n_layers);
    const small_file_packed_layout layout = small_file_packed_layout_of(f->n_tensors, f->n_layers);
    const size_t tables_end = f->packed ? layout.checksum_at + 4 : layout.signatures_at;
    if (tables_end > size || weights_offset < 0 || weights_count < 0 || (size_t)weights_offset < tables_end ||
        weights_offset % 16 || (uint64_t)weights_offset + 4 * (uint64_t)weights_count > size) /* no wrap in 32 bits */
        return small_refuse(why, SMALL_ERR_FORMAT, "truncated or inconsistent: %zu bytes, weights at %d, %d floats", size,
                      weights_offset, weights_count);
    if (f->input < 0 || f->input >= f->n_tensors || f->output < 0 || f->output >= f->n_tensors)
        return small_refuse(why, SMALL_ERR_FORMAT, "input tensor %d or output tensor %d out of range", f->input, f->output);
    for (int t = 0; t < f->n_tensors; ++t) {
        const small_shape s = small_file_tensor_shape(f, t);
        if (s.h < 1 || s.w < 1 || s.c < 1 || small_shape_size(s) > SMALL_FILE_MAX_TENSOR_FLOATS)
            return small_refuse(why, SMALL_ERR_FORMAT, "tensor %d has shape %dx%dx%d: empty or over %d floats", t, s.h, s.w,
                          s.c, SMALL_FILE_MAX_TENSOR_FLOATS);
    }
    f->blob = (const float *)(const void *)(data + weights_offset);
    f->blob_floats = (size_t)weights_count;
    if (f->packed) {
        const size_t end = (size_t)weights_offset + 4 * (size_t)weights_count;
        const uint32_t stored = (uint32_t)small_file_word(data, layout.checksum_at / 4);
        const uint32_t computed = small_file_packed_checksum(data, layout.checksum_at, end);
        if (stored != computed)
            return small_refuse(why, SMALL_ERR_FORMAT, "pre-packed model damaged: its checksum is %08x, its bytes give %08x",
                          (unsigned)stored, (unsigned)computed);
    }
    return SMALL_OK;
}

small_shape small_file_tensor_shape(const small_file *f, int t) {
    const size_t at = SMALL_FILE_HEADER_WORDS + 3 * (size_t)t;
    return (small_shape){small_file_word(f->data, at), small_file_word(f->data, at + 1), small_file_word(f->data, at + 2)};
}

/* A region of `floats` floats at float offset `at` lies inside the blob. */
static int inside_blob(const small_file *f, int64_t at, uint64_t floats) {
    return at >= 0 && floats <= f->blob_floats && (uint64_t)at <= f->blob_floats - floats;
}

small_status small_file_layer_read(const small_file *f, int i, small_file_layer *l, small_message *why) {
    const unsigned char *w = f->data + 4 * (SMALL_FILE_HEADER_WORDS + 3 * (size_t)f->n_tensors +
                                            (size_t)SMALL_FILE_LAYER_WORDS * i);
    memset(l, 0, sizeof *l);
    small_layer_desc *d = &l->desc;
    *d = small_layer_desc_default((small_op)small_file_word(w, SMALL_FILE_L_OP));
    d->n_inputs = small_file_word(w, SMALL_FILE_L_N_INPUTS);
    if (d->n_inputs < 1 || d->n_inputs > SMALL_MAX_INPUTS)
        return small_refuse(why, SMALL_ERR_FORMAT, "layer %d has %d inputs", i, d->n_inputs);
    l->output = small_file_word(w, SMALL_FILE_L_OUTPUT);
    if (l->output < 0 || l->output >= f->n_tensors)
        return small_refuse(why, SMALL_ERR_FORMAT, "layer %d writes tensor %d, which is not in the model", i, l->output);
    for (int k = 0; k < d->n_inputs; ++k) {
        l->inputs[k] = small_file_word(w, SMALL_FILE_L_INPUTS + k);
        if (l->inputs[k] < 0 || l->inputs[k] >= f->n_tensors)
            return small_refuse(why, SMALL_ERR_FORMAT, "layer %d reads tensor %d, which is not in the model", i, l->inputs[k]);
        d->inputs[k] = small_file_tensor_shape(f, l->inputs[k]);
    }
    d->out_channels = small_file_word(w, SMALL_FILE_L_OUT_CHANNELS);
    d->groups = small_file_word(w, SMALL_FILE_L_GROUPS);
    d->kernel_h = small_file_word(w, SMALL_FILE_L_KERNEL_H);
    d->kernel_w = small_file_word(w, SMALL_FILE_L_KERNEL_W);
    d->stride_h = small_file_word(w, SMALL_FILE_L_STRIDE_H);
    d->stride_w = small_file_word(w, SMALL_FILE_L_STRIDE_W);
    d->dilation_h = small_file_word(w, SMALL_FILE_L_DILATION_H);
    d->dilation_w = small_file_word(w, SMALL_FILE_L_DILATION_W);
    d->padding = (small_padding)small_file_word(w, SMALL_FILE_L_PADDING);
    d->pad_top = small_file_word(w, SMALL_FILE_L_PAD_TOP);
    d->pad_bottom = small_file_word(w, SMALL_FILE_L_PAD_BOTTOM);
    d->pad_left = small_file_word(w, SMALL_FILE_L_PAD_LEFT);
    d->pad_right = small_file_word(w, SMALL_FILE_L_PAD_RIGHT);
    d->activation = (small_activation)small_file_word(w, SMALL_FILE_L_ACTIVATION);
    const int32_t alpha_bits = small_file_word(w, SMALL_FILE_L_ALPHA);
    memcpy(&d->alpha, &alpha_bits, 4);
    d->reshape_to = small_file_tensor_shape(f, l->output);
    const int32_t weights_at = small_file_word(w, SMALL_FILE_L_WEIGHTS), bias_at = small_file_word(w, SMALL_FILE_L_BIAS);
    if (!f->packed) {
        l->n_weights = small_layer_weight_count(d);
        l->n_bias = small_layer_bias_count(d);
        if ((weights_at >= 0 && !inside_blob(f, weights_at, l->n_weights)) ||
            (bias_at >= 0 && !inside_blob(f, bias_at, l->n_bias)))
            return small_refuse(why, SMALL_ERR_FORMAT, "layer %d: weights or bias beyond the weights blob (%zu floats)", i,
                          f->blob_floats);
        l->weights = weights_at >= 0 ? f->blob + weights_at : NULL;
        l->bias = bias_at >= 0 ? f->blob + bias_at : NULL;
        return SMALL_OK;
    }
    const small_file_packed_layout layout = small_file_packed_layout_of(f->n_tensors, f->n_layers);
    const unsigned char *sig = f->data + layout.signatures_at + 4 * (size_t)SMALL_FILE_SIG_WORDS * i;
    memcpy(l->kernel, sig, SMALL_FILE_SIG_NAME);
    l->kernel[SMALL_FILE_SIG_NAME] = '\0';
    l->pixel_tile = small_file_word(sig, SMALL_FILE_SIG_NAME / 4 + 1);
    l->channel_tile = small_file_word(sig, SMALL_FILE_SIG_NAME / 4 + 2);
    if (weights_at < 0) return SMALL_OK; /* no region */
    const int32_t floats = small_file_word(sig, SMALL_FILE_SIG_NAME / 4);
    if (floats < 0 || !inside_blob(f, weights_at, (uint64_t)floats) || weights_at % SMALL_FILE_REGION_ALIGN_FLOATS ||
        (bias_at != 0 && bias_at != -1))
        return small_refuse(why, SMALL_ERR_FORMAT, "layer %d: a pre-packed region beyond the weights blob (%zu floats)", i,
                      f->blob_floats);
    l->region = f->blob + weights_at;
    l->region_bytes = (size_t)floats * sizeof(float);
    l->region_has_bias = bias_at == 0;
    return SMALL_OK;
}

/* ---- Writing a pre-packed file ------------------------------------------------------------------ */

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

small_status small_file_write_packed(const small_layer *layers, int n_layers, int n_tensors, const void *original,
                                     size_t size, void *out, size_t *out_size) {
    const unsigned char *in = original;
    const small_file_packed_layout layout = small_file_packed_layout_of(n_tensors, n_layers);
    if (size < layout.signatures_at || memcmp(in, "SMLM", 4) || small_file_word(in, 1) != SMALL_FILE_VERSION ||
        small_file_word(in, 2) != n_tensors || small_file_word(in, 3) != n_layers)
        return SMALL_ERR_PARAM; /* not the plain file this model was loaded from */
    size_t blob_floats = 0;
    for (int i = 0; i < n_layers; ++i)
        if (layers[i].packed)
            blob_floats = round_up(blob_floats, SMALL_FILE_REGION_ALIGN_FLOATS) + layers[i].packed_bytes / sizeof(float);
    const size_t total = layout.blob_at + 4 * blob_floats;
    if (!out) {
        *out_size = total;
        return SMALL_OK;
    }
    if (*out_size < total || blob_floats > INT32_MAX || layout.blob_at > INT32_MAX) return SMALL_ERR_NOMEM;
    *out_size = total;
    unsigned char *o = out;
    memset(o, 0, total);
    memcpy(o, in, layout.signatures_at); /* header, tensors, layers; rewritten below */
    small_file_put_word(o, 1, SMALL_FILE_VERSION_PACKED);
    small_file_put_word(o, 6, (int32_t)layout.blob_at);
    small_file_put_word(o, 7, (int32_t)blob_floats);
    size_t at = 0;
    for (int i = 0; i < n_layers; ++i) {
        const small_layer *l = &layers[i];
        const size_t layer_word = SMALL_FILE_HEADER_WORDS + 3 * (size_t)n_tensors + (size_t)SMALL_FILE_LAYER_WORDS * i;
        unsigned char *sig = o + layout.signatures_at + 4 * (size_t)SMALL_FILE_SIG_WORDS * i;
        strncpy((char *)sig, small_layer_kernel_name(l), SMALL_FILE_SIG_NAME - 1);
        small_file_put_word(sig, SMALL_FILE_SIG_NAME / 4 + 1, l->pixel_tile);
        small_file_put_word(sig, SMALL_FILE_SIG_NAME / 4 + 2, l->channel_tile);
        if (!l->packed) {
            small_file_put_word(o, layer_word + SMALL_FILE_L_WEIGHTS, -1);
            small_file_put_word(o, layer_word + SMALL_FILE_L_BIAS, -1);
            continue;
        }
        at = round_up(at, SMALL_FILE_REGION_ALIGN_FLOATS);
        memcpy(o + layout.blob_at + 4 * at, l->packed, l->packed_bytes); /* this build's byte order */
        small_file_put_word(o, layer_word + SMALL_FILE_L_WEIGHTS, (int32_t)at);
        small_file_put_word(o, layer_word + SMALL_FILE_L_BIAS, l->bias ? 0 : -1);
        small_file_put_word(sig, SMALL_FILE_SIG_NAME / 4, (int32_t)(l->packed_bytes / sizeof(float)));
        at += l->packed_bytes / sizeof(float);
    }
    small_file_put_word(o, layout.checksum_at / 4, (int32_t)small_file_packed_checksum(o, layout.checksum_at, total));
    return SMALL_OK;
}
