/* refuse.h: the one way a loader says why it refuses something. */
#ifndef SMALL_REFUSE_H
#define SMALL_REFUSE_H

#include "small.h"

/* Writes the reason (printf-style) into *why when why is not NULL, and returns status. */
small_status small_refuse(small_message *why, small_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
