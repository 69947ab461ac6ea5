/* ARMv7-A NEON with VFPv4 (built with -mfpu=neon-vfpv4 for the fused vfmaq_f32, Cortex-A7/A15 and
 * later): the 128-bit ARM primitives, and tiles for 16 q registers. ARMv7 NEON flushes denormals. */
#include <sys/auxv.h>

#include "neon_simd.h"

#define SIMD_ISA neon
/* The conv tile's 8 accumulators, 2 weight vectors and the broadcast inputs. */
#define SIMD_CONV_PIXELS 4
#define SIMD_CONV_CHANNELS 8
#define SIMD_CONV_SPLITS 2
#define SIMD_CW_PIXELS 4
#define SIMD_PEAK_CHAINS 8
#define SIMD_WINOGRAD /* 3x3 stride-1 convs through Winograd F(2x2, 3x3) (lib/src/winograd.c) */

static int simd_supported(void) {
    return (getauxval(AT_HWCAP) & (HWCAP_ARM_NEON | HWCAP_ARM_VFPv4)) == (HWCAP_ARM_NEON | HWCAP_ARM_VFPv4);
}

#include "simd_fixed.h"
