/* Each op lowered to an instance of the shared nest (small_lower), and a lowered layer run: the nest's
 * walk for every op, but for the three that are more than one nest: a global average of two halves of
 * rows, a 3x3 conv through Winograd (winograd.c), and concat, one nest per input. A model lowers its
 * layers once, at load (lower.h). */
#include <string.h>

#include "lower.h"
#include "threads.h"
#include "winograd.h"

small_nest small_lower(const small_layer *layer) {
    const small_layer_desc *d = &layer->desc;
    small_nest n;
    memset(&n, 0, sizeof n);
    n.in = d->inputs[0];
    n.out = layer->output;
    n.kernel_h = n.kernel_w = n.stride_h = n.stride_w = n.dilation_h = n.dilation_w = n.groups = 1;
    n.activation = d->activation;
    n.alpha = d->alpha;
    n.weights = layer->packed;
    n.bias = layer->bias;
    switch (d->op) {
    case SMALL_OP_CONV2D:
        /* an int8 conv stays a conv (layer_s8.c): its FC requantizes otherwise */
        if (small_layer_is_matvec_conv(layer) && !layer->kernel->run_s8) {
            n.in = (small_shape){1, 1, (int)small_shape_size(n.in)};
            n.depth = n.in.c;
            n.matvec = 1;
            break;
        }
        n.groups = d->groups;
        n.depth = small_layer_is_depthwise(d) ? 0 : n.in.c / d->groups;
        /* fall through */
    case SMALL_OP_MAXPOOL:
    case SMALL_OP_AVGPOOL:
        n.kernel_h = d->kernel_h;
        n.kernel_w = d->kernel_w;
        n.stride_h = d->stride_h;
        n.stride_w = d->stride_w;
        n.dilation_h = d->dilation_h;
        n.dilation_w = d->dilation_w;
        n.pad_top = layer->pad_top;
        n.pad_left = layer->pad_left;
        break;
    case SMALL_OP_GLOBAL_AVGPOOL:
        n.kernel_h = n.in.h;
        n.kernel_w = n.in.w;
        break;
    case SMALL_OP_FULLY_CONNECTED:
        n.in = (small_shape){1, 1, (int)small_shape_size(n.in)};
        n.depth = n.in.c;
        n.matvec = 1;
        break;
    case SMALL_OP_RESHAPE: /* HWC data is already in order: copy it as one flat row */
        n.in = n.out = (small_shape){1, 1, (int)small_shape_size(n.in)};
        break;
    default: break; /* elementwise: a 1x1 window over the same shape */
    }
    n.y_pixel_step = n.out.c;
    return n;
}

/* A global average pool (a window over the whole input, padding-free, to one pixel, no activation)
 * averages the two halves of the input's rows apart, then combines the two means, weighted by their
 * rows: at 2 threads each thread averages the half that it wrote in the layer before (the nest's row
 * shares), where one thread alone read the other core's half (DS-CNN's 25x5x64: 1.6 us at 2 threads
 * against 0.3 at 1), and the next inference's first writes over those lines paid for it again. The
 * halves are the same at every thread count, so the result is too. */
enum { HALVES_MAX_CHANNELS = 256 }; /* the second half's mean is on the stack (1 KiB: microcontrollers) */

static int is_global_average(const small_layer *layer, const small_nest *n) {
    const small_op op = layer->desc.op;
    /* An input of one pixel tile or less is split by channel blocks in the layers before it (nest.c:
     * split_blocks), not by rows: the nest's own walk takes it whole. */
    return (op == SMALL_OP_GLOBAL_AVGPOOL || op == SMALL_OP_AVGPOOL) && n->out.h == 1 && n->out.w == 1 &&
           n->kernel_h == n->in.h && n->kernel_w == n->in.w && n->pad_top == 0 && n->pad_left == 0 &&
           n->in.h >= 2 && n->in.h * n->in.w > layer->pixel_tile && n->out.c <= HALVES_MAX_CHANNELS &&
           n->activation == SMALL_ACT_NONE;
}

/* Half u of a global average: a nest of its rows (the first rows / 2, then the rest), written in place
 * (a struct returned by value was a second copy per half on Cortex-M55: QEMU counts). */
static void make_half(small_nest *half, const small_nest *n, int u) {
    const int rows = n->in.h, top = rows / 2;
    *half = *n;
    half->in.h = half->kernel_h = u ? rows - top : top;
}

typedef struct {
    small_nest half[2];
    const small_nest_plan *plans;
    const small_kernel_choice *k;
    const float *x[2];
    float *y[2];
} pool_halves;

static void run_halves(void *context, int u0, int u1) {
    const pool_halves *h = context;
    for (int u = u0; u < u1; ++u) small_nest_walk_run(&h->plans[u], &h->half[u], h->k, h->x[u], 0, h->y[u], 1);
}

/* Apart from small_layer_run, so that its buffers do not grow every layer's frame (QEMU counts). */
static __attribute__((noinline)) void run_global_average(const small_prepared_layer *p, const float *x, float *y,
                                                         int threads) {
    const small_nest *n = &p->nest;
    float second[HALVES_MAX_CHANNELS];
    const int rows = n->in.h, top = rows / 2;
    pool_halves h = {.plans = p->plans, .k = &p->kernel, .x = {x, x + (size_t)top * n->in.w * n->in.c},
                     .y = {y, second}};
    for (int u = 0; u < 2; ++u) make_half(&h.half[u], n, u);
    int first[SMALL_MAX_THREADS + 1]; /* thread 0 the first half, thread 1 the second, the others none */
    for (int t = 0; t <= threads; ++t) first[t] = t < 2 ? t : 2;
    small_parallel_for(threads, 2, first, run_halves, &h);
    const float w0 = (float)top / (float)rows, w1 = (float)(rows - top) / (float)rows;
    for (int c = 0; c < n->out.c; ++c) y[c] = y[c] * w0 + second[c] * w1;
}

/* Apart from small_run_prepared, so that a call of six arguments does not grow every layer's frame (one
 * more store per layer under QEMU, RISC-V). */
static __attribute__((noinline)) int run_winograd(const small_prepared_layer *p, const float *x, float *y,
                                                  int threads) {
    return small_winograd_run(&p->nest, &p->kernel, p->winograd_weights, x, y, threads);
}

void small_prepare_layer(const small_layer *layer, small_prepared_layer *p) {
    p->nest = small_lower(layer);
    p->kernel = small_layer_kernel_choice(layer);
    p->winograd_weights = layer->winograd_weights;
    p->op = layer->desc.op;
    p->global_average = is_global_average(layer, &p->nest);
    if (p->global_average)
        for (int u = 0; u < 2; ++u) { /* the halves' plans, at prepare: a run makes only their nests */
            small_nest half;
            make_half(&half, &p->nest, u);
            small_nest_plan_make(&p->plans[u], &half, &p->kernel);
        }
    else
        small_nest_plan_make(&p->plans[0], &p->nest, &p->kernel);
}

void small_run_prepared(const small_layer *layer, const small_prepared_layer *p, const float *const *inputs,
                        float *output, int threads) {
    if (p->global_average) {
        run_global_average(p, inputs[0], output, threads);
        return;
    }
    /* Computed directly after all where a Winograd result is not finite (an Inf input, an overflow). */
    if (p->winograd_weights && !run_winograd(p, inputs[0], output, threads)) return;
    if (p->op != SMALL_OP_CONCAT) {
        small_nest_walk_run(&p->plans[0], &p->nest, &p->kernel, inputs[0], p->op == SMALL_OP_ADD ? inputs[1] : 0, output,
                            threads);
        return;
    }
    /* Concat: each input is copied into its channel slice of the wider output. */
    const small_layer_desc *d = &layer->desc;
    small_nest n = p->nest;
    n.y_pixel_step = layer->output.c;
    int offset = 0;
    for (int i = 0; i < d->n_inputs; ++i) {
        n.in = n.out = d->inputs[i];
        small_nest_run(&n, &p->kernel, inputs[i], 0, output + offset, threads);
        offset += d->inputs[i].c;
    }
}
