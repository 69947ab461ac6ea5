/* libFuzzer target: the model loader on any bytes, then one inference of whatever it accepts. Built
 * natively with ASan and UBSan by `invoke fuzz` (CMake: -DSMALL_FUZZ=ON). Nothing here may crash,
 * read or write out of bounds, or trip UBSan; a refusal is a normal outcome. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "small.h"

/* Accepted models that would take long to run are loaded and freed, not run: a slow input is not
 * a crash, and the fuzzer must stay fast. */
enum { MAX_MACS = 300 * 1000 };

static double layer_macs(const small_layer *layer) {
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

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const small_limits limits = {64u << 20, 64u << 20}; /* MiB of arena and of weights */
    small_set_limits(&limits);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    void *aligned = malloc(size ? size : 1); /* the loader wants a 4-byte aligned buffer */
    if (!aligned) return 0;
    memcpy(aligned, data, size);
    small_model *model = NULL;
    small_message why;
    if (small_model_load(&model, aligned, size, &why) == SMALL_OK) {
        double macs = 0;
        for (int i = 0; i < small_model_layer_count(model); ++i) macs += layer_macs(small_model_layer(model, i));
        if (macs <= MAX_MACS) {
            float *x = calloc(small_shape_size(small_model_input_shape(model)), sizeof(float));
            float *y = malloc(small_shape_size(small_model_output_shape(model)) * sizeof(float));
            if (x && y) small_model_run(model, x, y);
            free(x);
            free(y);
        }
        small_model_free(model);
    }
    free(aligned);
    return 0;
}
