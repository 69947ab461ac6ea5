/* AArch64 Advanced SIMD (Cortex-A53/A72 class): the 128-bit ARM primitives of arch/neon/, tiles for
 * 32 vector registers, and fmla by element: conv loads 4 input channels of a pixel as one vector and
 * multiplies each channel's weight row by one lane of it, so 16 loads feed 64 FMAs. */
#include "../neon/neon_simd.h"

#define SIMD_ISA asimd
/* The conv tile's 16 accumulators, 2 weight vectors and 8 input vectors (26 of 32 registers). */
#define SIMD_CONV_PIXELS 8
#define SIMD_CONV_CHANNELS 8
#define SIMD_CW_PIXELS 8
#define SIMD_DW_ROW_VECTORS 2
#define SIMD_LANE_FMA 1
#define SIMD_WINOGRAD /* 3x3 stride-1 convs through Winograd F(2x2, 3x3) (lib/src/winograd.c) */
#define simd_fma_lane(acc, w, x, lane) vfmaq_laneq_f32(acc, w, x, lane)

static int simd_supported(void) { return 1; } /* Advanced SIMD is part of every AArch64 Linux CPU */

#include "simd_fixed.h"
