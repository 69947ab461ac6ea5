/* IBM z14 vector facility with its enhancements 1 (s390x, 4 floats, big-endian; -march=z14 and
 * -mzvector): the primitives of arch/template/simd_fixed.h. A partial vector is VLL / VSTL, which
 * touch bytes 0 to the highest index given. The max and min use VFMAX / VFMIN's Java mode, which gives
 * NaN when either operand is NaN (vec_max's IEEE maxNum mode would drop it). */
#include <sys/auxv.h>
#include <vecintrin.h>

#define SIMD_ISA zvector
#define SIMD_LANES 4
/* 32 vector registers: the conv tile's 16 accumulators, 2 weight vectors and the inputs. */
#define SIMD_CONV_PIXELS 8
#define SIMD_CONV_CHANNELS 8
#define SIMD_DW_ROW_VECTORS 2

typedef vector float simd_v;
typedef unsigned int simd_tail; /* the highest byte index */

#define simd_tail_of(n) ((unsigned int)(n) * 4u - 1u)
#define simd_load(p) vec_xl(0, (const float *)(p))
#define simd_store(p, v) vec_xst(v, 0, p)
#define simd_load_tail(p, last) vec_load_len((const float *)(p), last)
#define simd_store_tail(p, v, last) vec_store_len(v, p, last)
#define simd_zero() vec_splats(0.0f)
static inline simd_v simd_dup(float x) { return vec_splats(x); }
#define simd_fma(acc, a, b) vec_madd(a, b, acc)
#define simd_add(a, b) ((a) + (b)) /* GCC vector arithmetic: vecintrin.h has no float vec_add */
#define simd_mul(a, b) ((a) * (b))
#define simd_sub(a, b) ((a) - (b))
#define SIMD_WINOGRAD /* 3x3 stride-1 convs through Winograd F(2x2, 3x3) */
#define simd_max(a, b) __builtin_s390_vfmaxsb(a, b, 1)
#define simd_min(a, b) __builtin_s390_vfminsb(a, b, 1)
#define simd_neg_select(v, a) vec_sel(v, a, vec_cmplt(v, vec_splats(0.0f)))
static int simd_supported(void) { return (getauxval(AT_HWCAP) & HWCAP_S390_VXRS_EXT) != 0; }

#include "simd_fixed.h"
