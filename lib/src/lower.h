/* lower.h: a planned layer lowered to the shared nest, once (lower.c), and run. */
#ifndef SMALL_LOWER_H
#define SMALL_LOWER_H

#include "nest.h"

/* A model keeps one per layer from load, so that an inference reads this record rather than a chain
 * of the layer's, the model's and the tensors' fields: once a layer has streamed its weights through
 * L1, each of those lines is a miss that waits behind the stream (ad01's 10 FC layers: 6.47 -> 6.31
 * us at 1 thread, its FC kernel calls alone 6.14). The walk's plan is made here too. */
typedef struct {
    small_nest nest;               /* the layer as a nest, for its first input */
    small_kernel_choice kernel;
    /* How the nest walks it (nest.h): plans[0]; a global average's two halves of rows: plans[0] and [1] */
    small_nest_plan plans[2];
    const float *winograd_weights; /* the layer's, where it runs through Winograd (winograd.h); else NULL */
    small_op op;
    int global_average;            /* averaged in two halves of rows (lower.c: is_global_average) */
} small_prepared_layer;

/* The nest instance of a planned layer, for its first input. */
small_nest small_lower(const small_layer *layer);

/* For a layer that small_layer_plan planned (layer->kernel is set). */
void small_prepare_layer(const small_layer *layer, small_prepared_layer *p);

/* small_layer_run after its checks: p prepared from layer, inputs[0 .. n_inputs) and output valid, on
 * `threads` threads (threads.h: small_pool_enter). */
void small_run_prepared(const small_layer *layer, const small_prepared_layer *p, const float *const *inputs,
                        float *output, int threads);

/* From layer.c, what lowering needs of a planned layer: its kernel and tiles, and how its conv is shaped. */
small_kernel_choice small_layer_kernel_choice(const small_layer *layer);
int small_layer_is_depthwise(const small_layer_desc *d);
int small_layer_is_matvec_conv(const small_layer *layer);

/* From layer.c, what the int8 plan (layer_s8.c) shares with the float one. */
small_status small_layer_fail(small_layer *layer, small_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
small_status small_layer_check_window(small_layer *layer);
small_status small_layer_pick_kernel(small_layer *layer, small_kernel_kind kind, int channels);
int small_layer_shape_ok(small_shape s);
size_t small_layer_weight_elements(int out_channels, int64_t taps, int64_t depth); /* 0: too many */
/* The end of a plan, float or int8: the output's shape checked; on failure the layer released, its
 * message kept. Returns the status. */
small_status small_layer_plan_end(small_layer *layer, small_status s);

#endif
