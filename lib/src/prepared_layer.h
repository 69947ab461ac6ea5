/* prepared_layer.h: what small_layer_run works out from a planned layer, worked out once. */
#ifndef SMALL_PREPARED_LAYER_H
#define SMALL_PREPARED_LAYER_H

#include "nest.h"

/* A model keeps one per layer from load, so that an inference reads this record rather than a chain
 * of the layer's, the model's and the tensors' fields: once a layer has streamed its weights through
 * L1, each of those lines is a miss that waits behind the stream (ad01's 10 FC layers: 6.47 -> 6.31
 * us at 1 thread, its FC kernel calls alone 6.14). */
typedef struct {
    small_nest nest;
    small_kernel_choice kernel;
    const float *winograd_weights; /* the layer's, where it runs through Winograd (winograd.h); else NULL */
    small_op op;
    int global_average; /* averaged in two halves of rows (layer.c: is_global_average) */
} small_prepared_layer;

/* For a layer that small_layer_plan planned (layer->kernel is set). */
void small_prepare_layer(const small_layer *layer, small_prepared_layer *p);

/* small_layer_run after its checks: p prepared from layer, inputs[0 .. n_inputs) and output valid, on
 * `threads` threads (threads.h: small_pool_enter). */
void small_run_prepared(const small_layer *layer, const small_prepared_layer *p, const float *const *inputs,
                        float *output, int threads);

#endif
