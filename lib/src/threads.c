/* A small pool of worker threads (pthreads): small_set_threads(n) keeps n - 1 workers waiting; each
 * parallel run hands them a range of units and the caller takes the first. Builds without pthreads
 * (bare metal: SMALL_NO_THREADS) run everything on the caller and accept only 1 thread. */
#include <stdint.h>

#include "small.h"
#include "threads.h"

#if defined(SMALL_NO_THREADS)

small_status small_set_threads(int n) { return n == 1 ? SMALL_OK : SMALL_ERR_PARAM; }
int small_get_threads(void) { return 1; }
void small_parallel_for(int units, void (*fn)(void *, int, int), void *context) { fn(context, 0, units); }

#else
#include <pthread.h>
#include <stdatomic.h>

/* Thread i's range of units, out of parts contiguous ranges of [0, units). */
static void part(int units, int parts, int i, int *u0, int *u1) {
    *u0 = (int)((int64_t)units * i / parts);
    *u1 = (int)((int64_t)units * (i + 1) / parts);
}

/* Waking a sleeping thread costs tens of microseconds, as much as a whole small layer: a thread
 * first spins this many rounds on the generation counter (a few milliseconds, so it stays awake
 * across the layers of one inference), and only then sleeps on the condition variable. */
enum { SPIN_ROUNDS = 1 << 16 };

static inline void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || (defined(__arm__) && __ARM_ARCH >= 7)
    __asm__ __volatile__("yield");
#endif
}

static struct {
    pthread_t workers[SMALL_MAX_THREADS];
    int count; /* threads that run the work, the caller included */
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    atomic_uint generation;    /* one more for every parallel run, and for a stop */
    unsigned first_generation; /* when the current workers were started: none of them has seen it */
    atomic_int pending;        /* workers still running the current run */
    int sleepers, stopping, parts, units;
    void (*fn)(void *, int, int);
    void *context;
} pool = {.count = 1, .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER,
          .done = PTHREAD_COND_INITIALIZER};

static unsigned next_generation(unsigned seen) {
    unsigned g = seen;
    for (int spin = 0; spin < SPIN_ROUNDS && (g = atomic_load_explicit(&pool.generation, memory_order_acquire)) == seen;
         ++spin)
        relax();
    if (g != seen) return g;
    pthread_mutex_lock(&pool.lock);
    ++pool.sleepers;
    while ((g = atomic_load_explicit(&pool.generation, memory_order_acquire)) == seen)
        pthread_cond_wait(&pool.wake, &pool.lock);
    --pool.sleepers;
    pthread_mutex_unlock(&pool.lock);
    return g;
}

static void *worker(void *argument) {
    const int index = (int)(intptr_t)argument; /* 1 .. count - 1; the caller is 0 */
    unsigned seen = pool.first_generation;    /* not pool.generation: a run may have begun already */
    for (;;) {
        seen = next_generation(seen);
        if (pool.stopping) break;
        if (index < pool.parts) {
            int u0, u1;
            part(pool.units, pool.parts, index, &u0, &u1);
            pool.fn(pool.context, u0, u1);
            if (atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_acq_rel) == 1) {
                pthread_mutex_lock(&pool.lock);
                pthread_cond_signal(&pool.done);
                pthread_mutex_unlock(&pool.lock);
            }
        }
    }
    return NULL;
}

/* Publishes the job (written before the generation's release store) and wakes any sleeper. */
static void start_generation(void) {
    atomic_fetch_add_explicit(&pool.generation, 1, memory_order_release);
    pthread_mutex_lock(&pool.lock);
    if (pool.sleepers) pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
}

static void stop_workers(void) {
    pool.stopping = 1;
    start_generation();
    for (int i = 1; i < pool.count; ++i) pthread_join(pool.workers[i], NULL);
    pool.stopping = 0;
    pool.count = 1;
}

small_status small_set_threads(int n) {
    if (n < 1 || n > SMALL_MAX_THREADS) return SMALL_ERR_PARAM;
    if (n == pool.count) return SMALL_OK;
    stop_workers();
    pool.first_generation = atomic_load(&pool.generation);
    for (int i = 1; i < n; ++i) {
        if (pthread_create(&pool.workers[i], NULL, worker, (void *)(intptr_t)i) != 0) return SMALL_ERR_NOMEM;
        pool.count = i + 1; /* the workers started so far keep working */
    }
    return SMALL_OK;
}

int small_get_threads(void) { return pool.count; }

void small_parallel_for(int units, void (*fn)(void *, int, int), void *context) {
    const int parts = units < pool.count ? units : pool.count;
    if (parts <= 1) {
        fn(context, 0, units);
        return;
    }
    pool.fn = fn;
    pool.context = context;
    pool.units = units;
    pool.parts = parts;
    atomic_store_explicit(&pool.pending, parts - 1, memory_order_relaxed);
    start_generation();
    int u0, u1;
    part(units, parts, 0, &u0, &u1);
    fn(context, u0, u1);
    for (int spin = 0; spin < SPIN_ROUNDS && atomic_load_explicit(&pool.pending, memory_order_acquire) > 0; ++spin)
        relax();
    if (atomic_load_explicit(&pool.pending, memory_order_acquire) > 0) {
        pthread_mutex_lock(&pool.lock);
        while (atomic_load_explicit(&pool.pending, memory_order_acquire) > 0) pthread_cond_wait(&pool.done, &pool.lock);
        pthread_mutex_unlock(&pool.lock);
    }
}
#endif
