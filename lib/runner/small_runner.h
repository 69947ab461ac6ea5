/* small_runner.h: the runner's protocol loop, for the runner program and the protocol fuzzer. */
#ifndef SMALL_RUNNER_H
#define SMALL_RUNNER_H

#include <stdio.h>

/* Serves requests from `in`, replying on `out`, until the stream ends or a quit (0), or a malformed
 * request (2, after a SMALL_ERR_FORMAT reply). The protocol is in lib/runner/runner.c. */
int small_runner_serve(FILE *in, FILE *out);

#endif
