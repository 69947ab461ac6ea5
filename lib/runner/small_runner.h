/* small_runner.h: the runner's protocol loop, for the runner program and the protocol fuzzer; and the
 * streams the runner and the bare-metal firmware take from their arguments. */
#ifndef SMALL_RUNNER_H
#define SMALL_RUNNER_H

#include <stdio.h>
#include <string.h>

/* Serves requests from `in`, replying on `out`, until the stream ends or a quit (0), or a malformed
 * request (2, after a SMALL_ERR_FORMAT reply). The protocol is in lib/runner/runner.c. */
int small_runner_serve(FILE *in, FILE *out);

/* The stream named by an argument PREFIXPATH (--in=PATH, --out=PATH) opened with `mode`, else
 * `standard`; NULL if the named file does not open. A bare-metal program gets two FIFOs this way
 * (small_harness/toolchain/semihost_run.sh), opened through semihosting. */
static inline FILE *small_runner_stream(int argc, char **argv, const char *prefix, const char *mode, FILE *standard) {
    for (int i = 1; i < argc; ++i)
        if (strncmp(argv[i], prefix, strlen(prefix)) == 0) return fopen(argv[i] + strlen(prefix), mode);
    return standard;
}

#endif
