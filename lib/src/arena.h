/* arena.h: where a model's tensors live in its one activation arena. */
#ifndef SMALL_ARENA_H
#define SMALL_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include "small.h"

/* ALIGN_FLOATS: every tensor's offset in the arena, and the arena itself (when the library allocates
 * it), is a multiple of a 64-byte cache line, so that a vector of channels never straddles two lines
 * (tensors at 16 bytes, as before, took DS-CNN and MobileNet 1.11x the time on AVX-512, whose loads
 * and stores are a line wide, most of it in depthwise layers). */
enum { SMALL_ARENA_ALIGN_FLOATS = 16 };

typedef struct {
    small_shape shape;
    int first, last; /* layers that produce and last read it (-1: not in the arena) */
    int alias;       /* a reshape's output shares its input's memory: that tensor (else -1) */
    size_t offset;   /* in floats, into the arena: what small_arena_place decides */
} small_arena_tensor;

/* Places the tensors in use (first >= 0), each at an offset where it does not overlap any tensor alive
 * at the same time, and an alias at its tensor's offset: the compact layout (the smaller of two greedy
 * orders), or with `centred` the layout for threads where it fits the limit (arena.c). Sets *floats to
 * the arena's size; SMALL_ERR_NOMEM past `limit` floats (saying so in *why) or when out of memory.
 * Time about n log n in the tensors, plus the pairs of tensors alive together. */
small_status small_arena_place(small_arena_tensor *tensors, int n, int centred, uint64_t limit, uint64_t *floats,
                               small_message *why);

#endif
