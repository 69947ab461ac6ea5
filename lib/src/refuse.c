/* The one way a loader says why it refuses something (refuse.h). */
#include "refuse.h"

#include <stdarg.h>
#include <stdio.h>

small_status small_refuse(small_message *why, small_status status, const char *fmt, ...) {
    if (why) {
        va_list args;
        va_start(args, fmt);
        vsnprintf(why->text, sizeof why->text, fmt, args);
        va_end(args);
    }
    return status;
}
