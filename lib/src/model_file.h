/* model_file.h: the model file format, read and written; nothing here plans or runs a layer.
 *
 * Format (all fields little-endian 32-bit on every host, floats too; small_harness/models/format.py
 * writes version 1):
 *   header   "SMLM", version, n_tensors, n_layers, input tensor, output tensor,
 *            weights offset (bytes from the start, a multiple of 16), weights count (floats)
 *   tensors  n_tensors x (h, w, c)
 *   layers   n_layers x SMALL_FILE_LAYER_WORDS words: op, n_inputs, input tensors[SMALL_MAX_INPUTS],
 *            output tensor, out_channels, groups, kernel_h, kernel_w, stride_h, stride_w, dilation_h,
 *            dilation_w, padding, pad_top, pad_bottom, pad_left, pad_right, activation, alpha (float
 *            bits), weights offset, bias offset (in floats into the weights blob, or -1 for none)
 *   weights  weights count floats
 * Layers come in execution order and each tensor is produced once (the model input by none).
 *
 * Version 3, pre-packed (small_model_write_packed, for one build; version 2 was the same without the
 * checksum): a layer's weights offset is that of its packed region (weights as this build packs them,
 * then the bias; floats in the writing build's byte order; offsets multiples of 16 floats), its bias
 * offset is 0 when the region ends with a bias (else -1), and between the layer tables and the weights
 * lie n_layers x SMALL_FILE_SIG_WORDS words: the kernel each layer was packed for (its name, NUL-padded
 * to SMALL_FILE_SIG_NAME bytes), the region's floats, and the kernel's pixel and channel tiles; then one
 * word, the CRC-32 (zlib's) of the file's first weights offset + 4 x weights count bytes with that word
 * taken as zero. So shifted or corrupted weights are refused, not computed with.
 *
 * What this file checks is what can be checked without planning: the header, the sizes and ranges of
 * tables, tensor shapes, tensor indices in range, weights inside the blob, and the checksum. The model
 * (model.c) checks the graph and plans each layer, the same way for every version. */
#ifndef SMALL_MODEL_FILE_H
#define SMALL_MODEL_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "small.h"

enum {
    SMALL_FILE_HEADER_WORDS = 8,
    SMALL_FILE_VERSION = 1,
    SMALL_FILE_VERSION_PACKED = 3,
    SMALL_FILE_MAX_TENSORS = 1 << 16,
    SMALL_FILE_MAX_TENSOR_FLOATS = 1 << 28,
    SMALL_FILE_SIG_NAME = 48,
    SMALL_FILE_SIG_WORDS = SMALL_FILE_SIG_NAME / 4 + 3,
    SMALL_FILE_REGION_ALIGN_FLOATS = 16,
};

/* The words of a layer's table, in order (model_format.py's LAYER_WORDS is their count). */
enum {
    SMALL_FILE_L_OP, SMALL_FILE_L_N_INPUTS, SMALL_FILE_L_INPUTS,
    SMALL_FILE_L_OUTPUT = SMALL_FILE_L_INPUTS + SMALL_MAX_INPUTS, SMALL_FILE_L_OUT_CHANNELS, SMALL_FILE_L_GROUPS,
    SMALL_FILE_L_KERNEL_H, SMALL_FILE_L_KERNEL_W, SMALL_FILE_L_STRIDE_H, SMALL_FILE_L_STRIDE_W,
    SMALL_FILE_L_DILATION_H, SMALL_FILE_L_DILATION_W, SMALL_FILE_L_PADDING, SMALL_FILE_L_PAD_TOP,
    SMALL_FILE_L_PAD_BOTTOM, SMALL_FILE_L_PAD_LEFT, SMALL_FILE_L_PAD_RIGHT, SMALL_FILE_L_ACTIVATION,
    SMALL_FILE_L_ALPHA, SMALL_FILE_L_WEIGHTS, SMALL_FILE_L_BIAS, SMALL_FILE_LAYER_WORDS
};

/* A file whose header and tables small_file_open checked; it points into the caller's buffer. */
typedef struct {
    const unsigned char *data;
    int packed; /* version 3: layers read their packed regions in place */
    int n_tensors, n_layers, input, output;
    const float *blob; /* the weights, 4-byte aligned */
    size_t blob_floats;
} small_file;

/* One layer as the file gives it. Plain files: weights and bias (little-endian floats, n_weights and
 * n_bias of them as the descriptor implies, inside the blob) or NULL. Pre-packed: the region (NULL for
 * a layer without weights), whether it ends with a bias, and the kernel and tiles it was packed for. */
typedef struct {
    small_layer_desc desc; /* input shapes and reshape_to from the tensor table */
    int inputs[SMALL_MAX_INPUTS], output;
    const float *weights, *bias;
    size_t n_weights, n_bias;
    const float *region;
    size_t region_bytes;
    int region_has_bias;
    char kernel[SMALL_FILE_SIG_NAME + 1];
    int pixel_tile, channel_tile;
} small_file_layer;

/* Checks the header and the tables' extents (and a pre-packed file's checksum); says why in *why. */
small_status small_file_open(small_file *file, const void *data, size_t size, small_message *why);

small_shape small_file_tensor_shape(const small_file *file, int tensor);

/* Layer i: its descriptor, its tensors (in range: whether they exist yet is the model's to check) and
 * where its weights lie, checked to be inside the blob. */
small_status small_file_layer_read(const small_file *file, int i, small_file_layer *layer, small_message *why);

/* Writes a pre-packed file (version 3) of a model loaded from `original` (a plain file of `size` bytes,
 * its n_tensors and n_layers): the layers' packed regions as this build made them (small.h:
 * small_model_write_packed). out NULL: only *out_size. SMALL_ERR_PARAM when original is not such a
 * file, SMALL_ERR_NOMEM when *out_size is too small. */
small_status small_file_write_packed(const small_layer *layers, int n_layers, int n_tensors, const void *original,
                                     size_t size, void *out, size_t *out_size);

/* CRC-32 (the polynomial of zlib, Ethernet and PNG) of n bytes, continuing from crc (0 to start). */
uint32_t small_crc32(uint32_t crc, const void *data, size_t n);

/* Where a pre-packed file of n_tensors and n_layers puts its signatures, its checksum word and its
 * weights blob (bytes from the start). */
typedef struct {
    size_t signatures_at, checksum_at, blob_at;
} small_file_packed_layout;
small_file_packed_layout small_file_packed_layout_of(int n_tensors, int n_layers);

/* The checksum of a pre-packed file's first `end` bytes (checksum_at + 4 <= end), its checksum word at
 * checksum_at taken as zero: what its checksum word must hold. */
uint32_t small_file_packed_checksum(const unsigned char *data, size_t checksum_at, size_t end);

/* Word `index` of a little-endian buffer, and its writer, on a host of either byte order. */
int32_t small_file_word(const unsigned char *data, size_t index);
void small_file_put_word(unsigned char *out, size_t index, int32_t value);

#endif
