/* The shared loop nest: groups -> channel blocks -> output rows -> pixel tiles -> kernel (MAC
 * kinds; channelwise kinds take the channel blocks innermost, under the pixel tiles).
 *
 * Padding is never materialised. For each output row the nest clips the window's rows to the
 * input; along the row it splits pixels into the interior, where the whole window is inside the
 * input and pixels go to the kernel pixel_tile at a time, and the borders, where each pixel goes
 * alone with its own clipped columns (channelwise kinds: a border column of the inner rows goes as one
 * tile, run_column). So a kernel only ever reads real input.
 *
 * This file is the walk alone: how a layer is walked (its view, units, interior, blocks) was decided
 * once by its plan (nest_plan.c); a walk sets up its record from the plan, adds the data and what the
 * thread count changes, and walks. */
#include "nest.h"
#include "threads.h"

/* The float instance of the walk (nest_walk.h; nest_s8.c has the int8 one). */
#define NEST_NAME(name) name
#define NEST_ELEM float
#define NEST_TILE small_tile
#define NEST_TILE_FN small_tile_fn
#define NEST_RUN run
#define NEST_WEIGHTS weights
#define NEST_BIAS bias
#define NEST_EPILOGUE_INIT(n) .activation = (n)->activation, .alpha = (n)->alpha
#define NEST_EPILOGUE_SET(t, n) (t)->activation = (n)->activation; (t)->alpha = (n)->alpha
#include "nest_walk.h"


void small_nest_run(const small_nest *n, const small_kernel_choice *k, const float *x, const float *x2, float *y,
                    int threads) {
    small_nest_plan p;
    small_nest_plan_make(&p, n, k);
    small_nest_walk_run(&p, n, k, x, x2, y, threads);
}
