/* The thread contract of small.h ("Threads"), checked with real threads, as part of the C self-test:
 * - two different models run from two threads at once, at 1, 2 and 3 pool threads, give the results
 *   they give alone, bit for bit;
 * - the same model run from two threads at once: every run gives the right result or SMALL_ERR_BUSY,
 *   never a wrong one, and a run while another is in flight is refused;
 * - small_set_threads while another thread runs models waits for it: no deadlock, no wrong result;
 * - one planned layer run from several threads at once.
 * Each scenario runs under a watchdog (alarm): a deadlock ends the program naming the scenario, instead
 * of hanging the test. The x86_64-tsan target builds it with ThreadSanitizer, which then also checks
 * every access for races. Builds without threads (bare metal) skip it. */
#include "concurrency.h"

#if defined(SMALL_NO_THREADS)
void concurrency_checks(void (*check)(int ok, const char *what)) { (void)check; }
#else
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model_builder.h"
#include "small.h"

enum { WATCHDOG_SECONDS = 300, RUNS = 12, BUSY_SECONDS = 20 };

static const char *volatile scenario = "";

static void watchdog(int signal) {
    (void)signal;
    static const char prefix[] = "concurrency: deadlock? this scenario did not finish within the watchdog's time: ";
    ssize_t ignored = write(2, prefix, sizeof prefix - 1);
    ignored = write(2, (const char *)scenario, strlen((const char *)scenario));
    ignored = write(2, "\n", 1);
    (void)ignored;
    _exit(3);
}

static void begin(const char *name) {
    scenario = name;
    alarm(WATCHDOG_SECONDS);
}

/* Model A: conv 3x3, depthwise 3x3, conv 1x1, global average, fully connected (each of the first
 * three large enough for the pool at 2 threads). */
static unsigned char *model_a(size_t *size) {
    model_builder b = {.seed = 11};
    int t = mb_tensor(&b, 16, 16, 8);
    small_layer_desc d = small_layer_desc_default(SMALL_OP_CONV2D);
    d.out_channels = 16, d.kernel_h = d.kernel_w = 3, d.padding = SMALL_PAD_SAME, d.activation = SMALL_ACT_RELU;
    t = mb_layer(&b, d, &t, 1, (small_shape){16, 16, 16});
    d.groups = 16;
    t = mb_layer(&b, d, &t, 1, (small_shape){16, 16, 16});
    d = small_layer_desc_default(SMALL_OP_CONV2D);
    d.out_channels = 24;
    t = mb_layer(&b, d, &t, 1, (small_shape){16, 16, 24});
    t = mb_layer(&b, small_layer_desc_default(SMALL_OP_GLOBAL_AVGPOOL), &t, 1, (small_shape){1, 1, 24});
    d = small_layer_desc_default(SMALL_OP_FULLY_CONNECTED);
    d.out_channels = 10;
    t = mb_layer(&b, d, &t, 1, (small_shape){1, 1, 10});
    return mb_write(&b, 0, t, size);
}

/* Model B: conv 3x3 of 16 -> 32 channels (Winograd where the table has it), max pool, conv 1x1,
 * softmax. */
static unsigned char *model_b(size_t *size) {
    model_builder b = {.seed = 23};
    int t = mb_tensor(&b, 12, 12, 16);
    small_layer_desc d = small_layer_desc_default(SMALL_OP_CONV2D);
    d.out_channels = 32, d.kernel_h = d.kernel_w = 3, d.padding = SMALL_PAD_SAME;
    t = mb_layer(&b, d, &t, 1, (small_shape){12, 12, 32});
    d = small_layer_desc_default(SMALL_OP_MAXPOOL);
    d.kernel_h = d.kernel_w = d.stride_h = d.stride_w = 2;
    t = mb_layer(&b, d, &t, 1, (small_shape){6, 6, 32});
    d = small_layer_desc_default(SMALL_OP_CONV2D);
    d.out_channels = 8;
    t = mb_layer(&b, d, &t, 1, (small_shape){6, 6, 8});
    t = mb_layer(&b, small_layer_desc_default(SMALL_OP_SOFTMAX), &t, 1, (small_shape){6, 6, 8});
    return mb_write(&b, 0, t, size);
}

typedef struct {
    const unsigned char *file;
    size_t size;
    float *input, *expected; /* the result of one run, alone, at 1 thread */
    size_t n_in, n_out;
} model_case;

static int prepare(model_case *c, unsigned char *file, size_t size) {
    c->file = file, c->size = size;
    small_model *m = NULL;
    if (small_model_load(&m, file, size, NULL) != SMALL_OK) return 0;
    c->n_in = small_shape_size(small_model_input_shape(m));
    c->n_out = small_shape_size(small_model_output_shape(m));
    c->input = malloc(c->n_in * sizeof(float));
    c->expected = malloc(c->n_out * sizeof(float));
    for (size_t i = 0; i < c->n_in; ++i) c->input[i] = (float)((i * 7919) % 201) / 100.0f - 1.0f;
    const int ok = small_model_run(m, c->input, c->expected) == SMALL_OK;
    small_model_free(m);
    return ok;
}

/* One thread's work: `runs` inferences of a model (its own, or one shared), counting what came back. */
typedef struct {
    small_model *model;
    const model_case *c;
    int runs;           /* OK runs to do (BUSY ones are tried again) */
    int until_stopped;  /* run until *stop, at least `runs` times */
    atomic_int *stop;
    atomic_int done;    /* OK runs so far */
    atomic_int ended;   /* the thread has returned */
    int wrong, busy, errors;
} runner_job;

static void *run_model_job(void *argument) {
    runner_job *j = argument;
    float *out = malloc(j->c->n_out * sizeof(float));
    while (atomic_load(&j->done) < j->runs || (j->until_stopped && !atomic_load(j->stop))) {
        const small_status s = small_model_run(j->model, j->c->input, out);
        if (s == SMALL_OK) {
            j->wrong += memcmp(out, j->c->expected, j->c->n_out * sizeof(float)) != 0;
            atomic_fetch_add(&j->done, 1);
        } else if (s == SMALL_ERR_BUSY) {
            ++j->busy;
        } else {
            ++j->errors;
            break;
        }
    }
    free(out);
    atomic_store(&j->ended, 1);
    return NULL;
}

static void different_models(const model_case *a, const model_case *b, void (*check)(int, const char *)) {
    for (int threads = 1; threads <= 3; ++threads) {
        char what[96];
        snprintf(what, sizeof what, "two models from two threads at %d pool threads: right results, no error", threads);
        begin(what);
        small_set_threads(threads);
        small_model *ma = NULL, *mb = NULL;
        const int loaded = small_model_load(&ma, a->file, a->size, NULL) == SMALL_OK &&
                           small_model_load(&mb, b->file, b->size, NULL) == SMALL_OK;
        runner_job ja = {.model = ma, .c = a, .runs = RUNS}, jb = {.model = mb, .c = b, .runs = RUNS};
        pthread_t ta, tb;
        if (loaded) {
            pthread_create(&ta, NULL, run_model_job, &ja);
            pthread_create(&tb, NULL, run_model_job, &jb);
            pthread_join(ta, NULL);
            pthread_join(tb, NULL);
        }
        check(loaded && ja.wrong + jb.wrong + ja.errors + jb.errors + ja.busy + jb.busy == 0, what);
        small_model_free(ma);
        small_model_free(mb);
    }
}

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Two threads on one model: every run right or refused. The second thread tries while the first runs
 * without pause, so that runs overlap whatever the scheduler does, and must be refused at least once. */
static void same_model(const model_case *a, void (*check)(int, const char *)) {
    for (int threads = 1; threads <= 2; ++threads) {
        char what[112];
        snprintf(what, sizeof what, "one model from two threads at %d pool threads: right results or SMALL_ERR_BUSY",
                 threads);
        begin(what);
        small_set_threads(threads);
        small_model *m = NULL;
        const int loaded = small_model_load(&m, a->file, a->size, NULL) == SMALL_OK;
        atomic_int stop;
        atomic_init(&stop, 0);
        runner_job busy_one = {.model = m, .c = a, .runs = 1, .until_stopped = 1, .stop = &stop};
        runner_job other = {.model = m, .c = a, .runs = 0};
        pthread_t t;
        if (loaded) {
            pthread_create(&t, NULL, run_model_job, &busy_one);
            while (atomic_load(&busy_one.done) < 1 && !atomic_load(&busy_one.ended)) sched_yield();
            const double until = seconds_now() + BUSY_SECONDS;
            float *out = malloc(a->n_out * sizeof(float));
            while (other.busy == 0 && !other.errors && seconds_now() < until) { /* until one is refused */
                const small_status s = small_model_run(m, a->input, out);
                if (s == SMALL_OK) other.wrong += memcmp(out, a->expected, a->n_out * sizeof(float)) != 0;
                else if (s == SMALL_ERR_BUSY) ++other.busy;
                else ++other.errors;
            }
            free(out);
            atomic_store(&stop, 1);
            pthread_join(t, NULL);
        }
        check(loaded && busy_one.wrong + other.wrong + busy_one.errors + other.errors == 0, what);
        snprintf(what, sizeof what, "one model from two threads at %d pool threads: a run in flight refuses another",
                 threads);
        check(other.busy > 0, what);
        small_model_free(m);
    }
}

/* small_set_threads from one thread while another runs a model without pause. */
static void threads_change_while_running(const model_case *b, void (*check)(int, const char *)) {
    const char *what = "small_set_threads while another thread runs a model: waits, no wrong result";
    begin(what);
    small_set_threads(2);
    small_model *m = NULL;
    const int loaded = small_model_load(&m, b->file, b->size, NULL) == SMALL_OK;
    atomic_int stop;
    atomic_init(&stop, 0);
    runner_job j = {.model = m, .c = b, .runs = 1, .until_stopped = 1, .stop = &stop};
    int refused = 0;
    if (loaded) {
        pthread_t t;
        pthread_create(&t, NULL, run_model_job, &j);
        static const int counts[] = {1, 3, 2, 4, 1, 2, 3, 1};
        for (int round = 0; round < 3; ++round)
            for (size_t i = 0; i < sizeof counts / sizeof counts[0]; ++i) {
                const int runs_before = atomic_load(&j.done);
                refused += small_set_threads(counts[i]) != SMALL_OK || small_get_threads() != counts[i];
                while (atomic_load(&j.done) == runs_before && !atomic_load(&j.ended)) sched_yield(); /* a run at this count */
            }
        atomic_store(&stop, 1);
        pthread_join(t, NULL);
    }
    check(loaded && !refused && j.wrong + j.errors + j.busy == 0, what);
    small_model_free(m);
}

typedef struct {
    const small_layer *layer;
    const float *x, *expected;
    size_t n_out;
    int wrong;
} layer_job;

static void *run_layer_job(void *argument) {
    layer_job *j = argument;
    float *out = malloc(j->n_out * sizeof(float));
    const float *inputs[1] = {j->x};
    for (int r = 0; r < RUNS; ++r)
        j->wrong += small_layer_run(j->layer, inputs, out) != SMALL_OK ||
                    memcmp(out, j->expected, j->n_out * sizeof(float)) != 0;
    free(out);
    return NULL;
}

static void one_layer_many_threads(void (*check)(int, const char *)) {
    const char *what = "one planned layer run from three threads at 2 pool threads: right results";
    begin(what);
    small_set_threads(1);
    model_builder b = {.seed = 5};
    small_layer_desc d = small_layer_desc_default(SMALL_OP_CONV2D);
    d.inputs[0] = (small_shape){20, 20, 8};
    d.out_channels = 16, d.kernel_h = d.kernel_w = 3, d.padding = SMALL_PAD_SAME;
    const int32_t w_at = mb_floats(&b, small_layer_weight_count(&d)), x_at = mb_floats(&b, 20 * 20 * 8);
    small_layer layer;
    const size_t n_out = 20 * 20 * 16;
    float *expected = malloc(n_out * sizeof(float));
    const float *x = b.blob + x_at;
    int ok = small_layer_plan(&layer, &d, b.blob + w_at, NULL) == SMALL_OK &&
             small_layer_run(&layer, &x, expected) == SMALL_OK;
    small_set_threads(2);
    layer_job jobs[3];
    pthread_t threads[3];
    for (int i = 0; ok && i < 3; ++i) {
        jobs[i] = (layer_job){&layer, x, expected, n_out, 0};
        pthread_create(&threads[i], NULL, run_layer_job, &jobs[i]);
    }
    for (int i = 0; ok && i < 3; ++i) {
        pthread_join(threads[i], NULL);
        ok = ok && jobs[i].wrong == 0;
    }
    check(ok, what);
    small_layer_release(&layer);
    free(expected);
    free(b.blob);
}

void concurrency_checks(void (*check)(int ok, const char *what)) {
    signal(SIGALRM, watchdog);
    const int threads_before = small_get_threads();
    small_set_threads(1);
    model_case a, b;
    size_t size_a, size_b;
    unsigned char *file_a = model_a(&size_a), *file_b = model_b(&size_b);
    const int ready = prepare(&a, file_a, size_a) && prepare(&b, file_b, size_b);
    check(ready, "concurrency: the two test models load and run alone");
    if (ready) {
        different_models(&a, &b, check);
        same_model(&a, check);
        threads_change_while_running(&b, check);
        one_layer_many_threads(check);
    }
    alarm(0);
    small_set_threads(threads_before);
    free(a.input), free(a.expected), free(b.input), free(b.expected);
    free(file_a), free(file_b);
}
#endif
