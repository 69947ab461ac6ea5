/* threads.h: the pool of worker threads behind small_set_threads, for the nest. */
#ifndef SMALL_THREADS_H
#define SMALL_THREADS_H

/* Runs fn(context, u0, u1) over [0, units) and returns when all are done: each thread (the caller
 * is the first) takes a contiguous share, then chunks from the far end of the shares whose owners
 * have not begun theirs. Thread t's share is [first[t], first[t + 1]): first has
 * small_get_threads() + 1 entries, non-decreasing, from 0 to units; NULL gives even shares. With one
 * thread, or one unit, it is a plain call. */
void small_parallel_for(int units, const int *first, void (*fn)(void *context, int u0, int u1), void *context);

#endif
