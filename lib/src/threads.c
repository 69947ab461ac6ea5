/* A small pool of worker threads (pthreads): small_set_threads(n) keeps n - 1 workers waiting. Each
 * parallel run gives every thread (the caller is thread 0) a contiguous share of the units; a thread
 * done with its own share then takes chunks from the far end of the shares not begun yet. Builds
 * without pthreads (bare metal: SMALL_NO_THREADS) run everything on the caller and accept only 1
 * thread. */
#include <stdint.h>

#include "small.h"
#include "threads.h"

#if defined(SMALL_NO_THREADS)

small_status small_set_threads(int n) { return n == 1 ? SMALL_OK : SMALL_ERR_PARAM; }
int small_get_threads(void) { return 1; }
int small_pool_enter(void) { return 1; }
void small_pool_leave(int threads) { (void)threads; }
void small_parallel_for(int threads, int units, const int *first, void (*fn)(void *, int, int), void *context) {
    (void)threads, (void)first;
    fn(context, 0, units);
}

#else
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

/* Waking a sleeping thread costs tens of microseconds, as much as a whole small layer: a thread
 * first spins on the generation counter (about half a millisecond here, so it stays awake across the
 * layers of one inference), and only then sleeps on the condition variable. It spins PAUSE_ROUNDS
 * with a pause (about 10 us here: the gaps inside an inference), then gives its CPU away between
 * rounds (sched_yield, 0.15 us when no one else wants it): with more threads than free CPUs, spinning
 * threads took the CPUs of those with work (MobileNet at 16 threads on 2 cores: 530 us, against 84 at
 * 2 threads; 170 us yielding). The caller waits for the workers the same way. */
enum { PAUSE_ROUNDS = 1 << 10, SPIN_ROUNDS = PAUSE_ROUNDS + (1 << 12), CHUNKS_PER_SHARE = 2, LINE = 64 };

static inline void relax(int round) {
    if (round >= PAUSE_ROUNDS) {
        sched_yield();
        return;
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || (defined(__arm__) && __ARM_ARCH >= 7)
    __asm__ __volatile__("yield");
#endif
}

/* Why shares and not one shared counter: a thread that takes the same part of every layer (the same
 * output rows: the nest gives the shares) finds most of its input in its own cache, where it wrote it
 * one layer before; and claims from a line of its own cost no transfer between cores. Each share is
 * one word, begin << 32 | end, on a cache line of its own: others take chunks from the back, but
 * only while the owner has not begun (begin is still `first`), and the owner takes what is left, all
 * at once (in chunks, each claim's compare-and-swap waited for the stores of the work before it:
 * MobileNet took 1.06x, DS-CNN 1.14x and ResNet-8 1.01x the time at 2 threads). So a thread the OS
 * has not scheduled yet (a busy machine) delays a run by at most one chunk, and one preempted in its
 * share by the rest of it. Taking from an owner at work would balance a few microseconds at the end
 * of a layer, but the rows taken are then written by the other core, and read by their owner in the
 * next layer: a worker starts about 0.3 us after the caller, so the caller took its last rows in
 * nearly every layer, and DS-CNN took 1.05x and MobileNet 1.03-1.06x the time at 2 threads (2 cores
 * here). Which thread computes a unit never changes how it is computed, so outputs stay
 * bit-identical for every count. */
typedef struct {
    _Alignas(LINE) _Atomic uint64_t range;
    atomic_uint first; /* the share's begin as published */
} share;

/* Units a thread has completed, over all runs: only its thread writes it. The caller waits until
 * the sum reaches `expected`; the counts only grow (mod 2^32), so no run has to reset them. */
typedef struct {
    _Alignas(LINE) atomic_uint units;
} done_count;

static struct {
    /* The job, written by the caller before it publishes the shares, read after a claim. */
    _Alignas(LINE) void (*fn)(void *, int, int);
    void *context;
    atomic_int chunk;  /* units per claim: read by late workers too, whose claims then fail */
    unsigned expected; /* the sum of the done counts when the current run is over */
    _Alignas(LINE) atomic_uint generation; /* one more for every parallel run, and for a stop */
    share shares[SMALL_MAX_THREADS];
    done_count done[SMALL_MAX_THREADS];
    _Alignas(LINE) pthread_t workers[SMALL_MAX_THREADS];
    /* Threads that run the work, the caller included: written by small_set_threads holding `callers`,
     * read without it only to see whether a run may skip the pool (small_pool_enter). */
    atomic_int count;
    /* Turns on the pool, first come first served: the one run that uses the pool (small_pool_enter ..
     * small_pool_leave) or small_set_threads holds the turn `serving`; a caller takes the next ticket
     * and waits for its turn. In order, so that a loop of runs cannot starve small_set_threads (a
     * mutex would hand itself back to the thread that just released it). */
    pthread_mutex_t callers;
    pthread_cond_t turn;
    unsigned next_ticket, serving;
    pthread_mutex_t lock;
    pthread_cond_t wake, finished;
    unsigned first_generation; /* when the current workers were started: none of them has seen it */
    atomic_int stopping;       /* read by workers that may be late for a run: a stop can come meanwhile */
    atomic_int sleepers;       /* workers asleep on `wake`, or about to be */
    atomic_int caller_waiting; /* the caller asleep on `finished`, or about to be */
} pool = {.count = 1, .callers = PTHREAD_MUTEX_INITIALIZER, .turn = PTHREAD_COND_INITIALIZER,
          .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER,
          .finished = PTHREAD_COND_INITIALIZER};

static int count_now(void) { return atomic_load_explicit(&pool.count, memory_order_relaxed); }

static unsigned next_generation(unsigned seen) {
    unsigned g = seen;
    for (int spin = 0; spin < SPIN_ROUNDS && (g = atomic_load_explicit(&pool.generation, memory_order_acquire)) == seen;
         ++spin)
        relax(spin);
    if (g != seen) return g;
    pthread_mutex_lock(&pool.lock);
    atomic_fetch_add(&pool.sleepers, 1); /* sequentially consistent, against start_generation: see there */
    while ((g = atomic_load(&pool.generation)) == seen) pthread_cond_wait(&pool.wake, &pool.lock);
    atomic_fetch_sub(&pool.sleepers, 1);
    pthread_mutex_unlock(&pool.lock);
    return g;
}

/* Takes up to pool.chunk units from the front (owner) or the back (another thread, while the owner
 * has not begun) of share s. A successful claim means its run is still going, since the caller
 * publishes no other run before every unit is done: so the job read after it is that run's. */
static int claim(int s, int from_back, int *u0, int *u1) {
    uint64_t r = atomic_load_explicit(&pool.shares[s].range, memory_order_acquire);
    for (;;) {
        const uint32_t begin = (uint32_t)(r >> 32), end = (uint32_t)r;
        if (begin >= end) return 0;
        if (from_back && begin != atomic_load_explicit(&pool.shares[s].first, memory_order_relaxed)) return 0;
        /* The owner takes all that is left: once it has begun, no one else takes from its share. */
        const uint32_t chunk =
            from_back ? (uint32_t)atomic_load_explicit(&pool.chunk, memory_order_relaxed) : end - begin;
        const uint32_t n = end - begin < chunk ? end - begin : chunk;
        const uint64_t left = from_back ? (uint64_t)begin << 32 | (end - n) : (uint64_t)(begin + n) << 32 | end;
        if (atomic_compare_exchange_weak_explicit(&pool.shares[s].range, &r, left, memory_order_acq_rel,
                                                  memory_order_acquire)) {
            *u0 = (int)(from_back ? end - n : begin);
            *u1 = (int)(from_back ? end : begin + n);
            return 1;
        }
    }
}

static void work(int self, int u0, int u1) {
    pool.fn(pool.context, u0, u1);
    /* Sequentially consistent, against the caller's store to caller_waiting: one sees the other's. */
    atomic_fetch_add(&pool.done[self].units, (unsigned)(u1 - u0));
    if (atomic_load(&pool.caller_waiting)) {
        pthread_mutex_lock(&pool.lock);
        pthread_cond_signal(&pool.finished);
        pthread_mutex_unlock(&pool.lock);
    }
}

/* Thread `self`'s own share, all at once, then chunks of those of the others not begun, from their
 * backs. */
static void run_shares(int self, int count) {
    int u0, u1;
    if (claim(self, 0, &u0, &u1)) work(self, u0, u1);
    for (int k = 1; k < count; ++k) {
        const int victim = (self + k) % count;
        while (claim(victim, 1, &u0, &u1)) work(self, u0, u1);
    }
}

static unsigned units_done(void) {
    unsigned sum = 0;
    for (int t = 0, count = count_now(); t < count; ++t) sum += atomic_load(&pool.done[t].units);
    return sum;
}

static void *worker(void *argument) {
    const int self = (int)(intptr_t)argument;
    unsigned seen = pool.first_generation; /* not pool.generation: a run may have begun already */
    for (;;) {
        seen = next_generation(seen);
        if (atomic_load_explicit(&pool.stopping, memory_order_acquire)) break;
        run_shares(self, count_now());
    }
    return NULL;
}

/* Both this and a worker going to sleep write one word and then read the other's, in sequentially
 * consistent order: so either the worker sees the new generation, or this sees it asleep and takes
 * the lock, which the worker holds until it waits. While every worker spins, no lock is taken. */
static void start_generation(void) {
    atomic_fetch_add(&pool.generation, 1);
    if (atomic_load(&pool.sleepers)) {
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
    }
}

static void stop_workers(void) {
    atomic_store_explicit(&pool.stopping, 1, memory_order_release);
    start_generation();
    for (int i = 1; i < count_now(); ++i) pthread_join(pool.workers[i], NULL);
    atomic_store_explicit(&pool.stopping, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.count, 1, memory_order_relaxed);
}

static void take_turn(void) {
    pthread_mutex_lock(&pool.callers);
    const unsigned ticket = pool.next_ticket++;
    while (pool.serving != ticket) pthread_cond_wait(&pool.turn, &pool.callers);
    pthread_mutex_unlock(&pool.callers);
}

static void end_turn(void) {
    pthread_mutex_lock(&pool.callers);
    ++pool.serving;
    pthread_cond_broadcast(&pool.turn);
    pthread_mutex_unlock(&pool.callers);
}

small_status small_set_threads(int n) {
    if (n < 1 || n > SMALL_MAX_THREADS) return SMALL_ERR_PARAM;
    take_turn(); /* after a run on the pool has ended */
    small_status status = SMALL_OK;
    if (n != count_now()) {
        stop_workers();
        pool.first_generation = atomic_load(&pool.generation);
        for (int i = 1; i < n; ++i) {
            if (pthread_create(&pool.workers[i], NULL, worker, (void *)(intptr_t)i) != 0) {
                status = SMALL_ERR_NOMEM;
                break;
            }
            atomic_store_explicit(&pool.count, i + 1, memory_order_relaxed); /* those started keep working */
        }
        pool.expected = units_done();
    }
    end_turn();
    return status;
}

int small_get_threads(void) { return count_now(); }

int small_pool_enter(void) {
    if (count_now() == 1) return 1; /* nothing to hold: the run stays on the caller */
    take_turn();
    const int threads = count_now();
    if (threads == 1) end_turn();
    return threads;
}

void small_pool_leave(int threads) {
    if (threads > 1) end_turn();
}

void small_parallel_for(int threads, int units, const int *first, void (*fn)(void *, int, int), void *context) {
    const int count = first ? threads : threads < units ? threads : units;
    if (count <= 1 || units <= 1) {
        fn(context, 0, units);
        return;
    }
    pool.fn = fn;
    pool.context = context;
    const int chunk = units / (count * CHUNKS_PER_SHARE);
    atomic_store_explicit(&pool.chunk, chunk > 0 ? chunk : 1, memory_order_relaxed);
    pool.expected += (unsigned)units;
    for (int t = 0; t < threads; ++t) { /* thread t's share; none for threads beyond `count` */
        uint64_t begin = 0, end = 0;
        if (t < count) {
            begin = first ? (uint64_t)first[t] : (uint64_t)units * t / count;
            end = first ? (uint64_t)first[t + 1] : (uint64_t)units * (t + 1) / count;
        }
        atomic_store_explicit(&pool.shares[t].first, (unsigned)begin, memory_order_relaxed);
        atomic_store_explicit(&pool.shares[t].range, begin << 32 | end, memory_order_release);
    }
    start_generation(); /* the job and the shares are published with it */
    run_shares(0, threads);
    for (int spin = 0; spin < SPIN_ROUNDS && units_done() != pool.expected; ++spin) relax(spin);
    if (units_done() != pool.expected) {
        pthread_mutex_lock(&pool.lock);
        atomic_store(&pool.caller_waiting, 1); /* sequentially consistent, against work(): see there */
        while (units_done() != pool.expected) pthread_cond_wait(&pool.finished, &pool.lock);
        atomic_store(&pool.caller_waiting, 0);
        pthread_mutex_unlock(&pool.lock);
    }
}
#endif
