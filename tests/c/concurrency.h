/* concurrency.h: the self-test's checks of small.h's thread contract (concurrency.c). */
#ifndef SMALL_TEST_CONCURRENCY_H
#define SMALL_TEST_CONCURRENCY_H

/* Runs every scenario, reporting each through check(ok, what); nothing in builds without threads. */
void concurrency_checks(void (*check)(int ok, const char *what));

#endif
