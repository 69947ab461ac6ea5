/* threads.h: the pool of worker threads behind small_set_threads, for the nest. */
#ifndef SMALL_THREADS_H
#define SMALL_THREADS_H

/* The pool serves one run at a time. small_pool_enter returns the threads a run may use: the count in
 * force, and then the caller holds the pool (other callers wait in small_pool_enter, and
 * small_set_threads waits) until small_pool_leave; or 1, and the run holds nothing and stays on the
 * caller, as many such runs at once may. */
int small_pool_enter(void);
void small_pool_leave(int threads);

/* Runs fn(context, u0, u1) over [0, units) on `threads` threads and returns when all are done: each
 * thread (the caller is the first) takes a contiguous share, then chunks from the far end of the shares
 * whose owners have not begun theirs. Thread t's share is [first[t], first[t + 1]): first has
 * threads + 1 entries, non-decreasing, from 0 to units; NULL gives even shares. threads is what
 * small_pool_enter gave (above 1 only while the caller holds the pool); with 1 thread, or one unit, it
 * is a plain call. */
void small_parallel_for(int threads, int units, const int *first, void (*fn)(void *context, int u0, int u1),
                        void *context);

#endif
