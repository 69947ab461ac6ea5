/* A small pool of worker threads (pthreads): small_set_threads(n) keeps n - 1 workers waiting; in each
 * parallel run the caller and the workers claim chunks of units from one counter until none is left. Builds without pthreads
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

/* Waking a sleeping thread costs tens of microseconds, as much as a whole small layer: a thread
 * first spins this many rounds on the generation counter (a few milliseconds, so it stays awake
 * across the layers of one inference), and only then sleeps on the condition variable. */
enum { SPIN_ROUNDS = 1 << 16, CHUNKS_PER_THREAD = 4 };

static inline void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || (defined(__arm__) && __ARM_ARCH >= 7)
    __asm__ __volatile__("yield");
#endif
}

/* Units are claimed in chunks from one counter, by the caller and the workers alike, rather than
 * handed out as fixed ranges: a worker the OS has not scheduled yet (a busy machine) then delays a
 * run by at most one chunk instead of its whole share. Which thread computes a unit never changes
 * how it is computed, so outputs stay bit-identical for every thread count. */
static struct {
    pthread_t workers[SMALL_MAX_THREADS];
    int count; /* threads that run the work, the caller included */
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    atomic_uint generation;    /* one more for every parallel run, and for a stop */
    unsigned first_generation; /* when the current workers were started: none of them has seen it */
    /* The run's generation (high half) with its unit count (low half), set first, then with its next
     * unclaimed unit: a worker late for one run reads the next run's words with another generation,
     * and so can never claim its units or read its job before it is published. */
    _Atomic uint64_t limit, claim;
    atomic_int completed; /* units done in the current run */
    atomic_int stopping; /* read by workers that may be late for a run: a stop can come meanwhile */
    int sleepers;
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

/* The units of run `generation`, or 0 when another run's words are in place. */
static int units_of(unsigned generation) {
    const uint64_t l = atomic_load_explicit(&pool.limit, memory_order_acquire);
    return (unsigned)(l >> 32) == generation ? (int)(uint32_t)l : 0;
}

static int chunk_of(int units) {
    const int chunk = units / (pool.count * CHUNKS_PER_THREAD);
    return chunk > 0 ? chunk : 1;
}

/* Claims the next chunk of run `generation`: 0 when that run has no unit left (or is over). A
 * successful claim means the run is still going (the caller starts no other before every unit is
 * done), so its job (fn, context) is the one published with it. */
static int claim_units(unsigned generation, int *u0, int *u1) {
    uint64_t c = atomic_load_explicit(&pool.claim, memory_order_acquire);
    const int units = units_of(generation);
    for (;;) {
        if ((unsigned)(c >> 32) != generation) return 0;
        const int next = (int)(uint32_t)c;
        if (next >= units) return 0;
        const int end = units - next > chunk_of(units) ? next + chunk_of(units) : units;
        if (atomic_compare_exchange_weak_explicit(&pool.claim, &c, (uint64_t)generation << 32 | (uint32_t)end,
                                                  memory_order_acq_rel, memory_order_acquire)) {
            *u0 = next;
            *u1 = end;
            return 1;
        }
    }
}

/* Runs the claimed chunks of run `generation` until none is left. */
static void run_chunks(unsigned generation) {
    int u0, u1;
    while (claim_units(generation, &u0, &u1)) {
        const int units = units_of(generation); /* read before the last unit is counted done */
        pool.fn(pool.context, u0, u1);
        if (atomic_fetch_add_explicit(&pool.completed, u1 - u0, memory_order_acq_rel) + (u1 - u0) == units) {
            pthread_mutex_lock(&pool.lock);
            pthread_cond_signal(&pool.done);
            pthread_mutex_unlock(&pool.lock);
        }
    }
}

static void *worker(void *argument) {
    (void)argument;
    unsigned seen = pool.first_generation; /* not pool.generation: a run may have begun already */
    for (;;) {
        seen = next_generation(seen);
        if (atomic_load_explicit(&pool.stopping, memory_order_acquire)) break;
        run_chunks(seen);
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
    atomic_store_explicit(&pool.stopping, 1, memory_order_release);
    start_generation();
    for (int i = 1; i < pool.count; ++i) pthread_join(pool.workers[i], NULL);
    atomic_store_explicit(&pool.stopping, 0, memory_order_relaxed);
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
    if (pool.count <= 1 || units <= 1) {
        fn(context, 0, units);
        return;
    }
    const unsigned generation = atomic_load_explicit(&pool.generation, memory_order_relaxed) + 1;
    atomic_store_explicit(&pool.limit, (uint64_t)generation << 32 | (uint32_t)units, memory_order_release);
    pool.fn = fn;
    pool.context = context;
    atomic_store_explicit(&pool.completed, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.claim, (uint64_t)generation << 32, memory_order_release);
    start_generation(); /* generation is now `generation` */
    run_chunks(generation);
    for (int spin = 0; spin < SPIN_ROUNDS && atomic_load_explicit(&pool.completed, memory_order_acquire) < units; ++spin)
        relax();
    if (atomic_load_explicit(&pool.completed, memory_order_acquire) < units) {
        pthread_mutex_lock(&pool.lock);
        while (atomic_load_explicit(&pool.completed, memory_order_acquire) < units)
            pthread_cond_wait(&pool.done, &pool.lock);
        pthread_mutex_unlock(&pool.lock);
    }
}
#endif
