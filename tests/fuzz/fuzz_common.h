/* fuzz_common.h: what the model fuzzers share: the limits they set, and loading a model file then
 * running one inference of what loads, as an application would. */
#ifndef SMALL_FUZZ_COMMON_H
#define SMALL_FUZZ_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "small.h"

/* Accepted models whose inference would take long are loaded and freed, not run: a slow input is not a
 * crash, and the fuzzer must stay fast. The MLPerf Tiny models (ResNet-8's 12.5 M MACs the largest) run
 * whole: a tampered file that loads must be run to show what it writes. */
enum { FUZZ_MAX_MACS = 20 * 1000 * 1000 };

static inline double fuzz_layer_macs(const small_layer *layer) {
    const small_layer_desc *d = &layer->desc;
    const double out = (double)small_shape_size(layer->output);
    switch (d->op) {
    case SMALL_OP_CONV2D:
        return out * d->kernel_h * d->kernel_w * (d->groups > 0 ? (double)d->inputs[0].c / d->groups : 1);
    case SMALL_OP_FULLY_CONNECTED: return out * (double)small_shape_size(d->inputs[0]);
    case SMALL_OP_MAXPOOL:
    case SMALL_OP_AVGPOOL: return out * d->kernel_h * d->kernel_w;
    default: return out + (double)small_shape_size(d->inputs[0]);
    }
}

static inline void fuzz_set_limits(void) {
    const small_limits limits = {64u << 20, 64u << 20}; /* MiB of arena and of weights */
    small_set_limits(&limits);
}

/* Loads `size` bytes (copied to a 64-byte aligned buffer, as a pre-packed model is read in place) and
 * runs one inference of a model that loads, if it is small enough. */
static inline void fuzz_load_and_run(const uint8_t *data, size_t size) {
    void *aligned = aligned_alloc(64, (size + 64) / 64 * 64);
    if (!aligned) return;
    memcpy(aligned, data, size);
    small_model *model = NULL;
    small_message why;
    if (small_model_load(&model, aligned, size, &why) == SMALL_OK) {
        double macs = 0;
        for (int i = 0; i < small_model_layer_count(model); ++i) macs += fuzz_layer_macs(small_model_layer(model, i));
        if (macs <= FUZZ_MAX_MACS) {
            float *x = calloc(small_shape_size(small_model_input_shape(model)), sizeof(float));
            float *y = malloc(small_shape_size(small_model_output_shape(model)) * sizeof(float));
            if (x && y) small_model_run(model, x, y);
            free(x);
            free(y);
        }
        small_model_free(model);
    }
    free(aligned);
}

#endif
