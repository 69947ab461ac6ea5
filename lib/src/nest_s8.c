/* The one loop nest's walk over int8 tensors (the int8 kinds, SMALL_KERNEL_S8_*): nest_walk.h
 * instantiated for int8 elements, in a file of its own, so that the float instance in nest.c is compiled
 * exactly as before (the same code and the same inlining decisions: the QEMU counts did not move). The
 * plan (nest_plan.c) is shared: it depends on the geometry and the kernel's tile alone. */
#include "nest.h"
#include "threads.h"

#define NEST_NAME(name) name##_s8
#define NEST_ELEM int8_t
#define NEST_TILE small_tile_s8
#define NEST_TILE_FN small_tile_s8_fn
#define NEST_RUN run_s8
#define NEST_WEIGHTS weights_s8
#define NEST_BIAS requant
#define NEST_EPILOGUE_INIT(n) .s8 = (n)->s8
#define NEST_EPILOGUE_SET(t, n) ((t)->s8 = (n)->s8)
#include "nest_walk.h"
