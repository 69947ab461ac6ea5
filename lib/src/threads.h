/* threads.h: the pool of worker threads behind small_set_threads, for the nest. */
#ifndef SMALL_THREADS_H
#define SMALL_THREADS_H

/* Runs fn(context, u0, u1) over [0, units) in contiguous chunks, which the caller and the workers
 * claim in turn, and returns when all are done. With one thread, or one unit, it is a plain call. */
void small_parallel_for(int units, void (*fn)(void *context, int u0, int u1), void *context);

#endif
