/* RISC-V vector extension 1.0: the primitives of arch/template/simd_vla.h. A vector is one LMUL-4
 * register group (VLEN / 8 floats); the channel tile follows VLEN at run time, so one binary runs at
 * every vector length. A tile's channels never exceed VLMAX, so they are the vector length as they
 * are: no vsetvl intrinsic, with which clang re-issues vsetvli inside the loops. */
#include <riscv_vector.h>
#include <sys/auxv.h>

#define VLA_ISA rvv
#define VLA_VECTOR "m4"
/* 32 registers: 7 LMUL-4 accumulators and one weight group (conv); 4 and the inputs (windows). */
#define VLA_CONV_PIXELS 7
#define VLA_WINDOW_PIXELS 4
#define VLA_PEAK_CHAINS 6

typedef vfloat32m4_t vla_v;
typedef size_t vla_tail; /* the vector length */

static int vla_lanes(void) { return (int)__riscv_vsetvlmax_e32m4(); }
#define vla_tail_of(n) ((size_t)(n))
#define vla_load(p, vl) __riscv_vle32_v_f32m4(p, vl)
#define vla_store(p, v, vl) __riscv_vse32_v_f32m4(p, v, vl)
#define vla_dup(x, vl) __riscv_vfmv_v_f_f32m4(x, vl)
#define vla_fma_scalar(acc, w, x, vl) __riscv_vfmacc_vf_f32m4(acc, x, w, vl)
#define vla_fma(acc, a, b, vl) __riscv_vfmacc_vv_f32m4(acc, a, b, vl)
#define vla_add(a, b, vl) __riscv_vfadd_vv_f32m4(a, b, vl)
#define vla_mul_scalar(a, x, vl) __riscv_vfmul_vf_f32m4(a, x, vl)
/* vfmax and vfmin return the other operand for a NaN: where either is NaN, give a + b, a NaN. */
static inline vla_v vla_keep_nan(vla_v r, vla_v a, vla_v b, size_t vl) {
    const vbool8_t nan = __riscv_vmor_mm_b8(__riscv_vmfne_vv_f32m4_b8(a, a, vl), __riscv_vmfne_vv_f32m4_b8(b, b, vl), vl);
    return __riscv_vfadd_vv_f32m4_mu(nan, r, a, b, vl);
}
static inline vla_v vla_max(vla_v a, vla_v b, size_t vl) { return vla_keep_nan(__riscv_vfmax_vv_f32m4(a, b, vl), a, b, vl); }
static inline vla_v vla_min(vla_v a, vla_v b, size_t vl) { return vla_keep_nan(__riscv_vfmin_vv_f32m4(a, b, vl), a, b, vl); }
#define vla_neg_select(v, a, vl) __riscv_vmerge_vvm_f32m4(v, a, __riscv_vmflt_vf_f32m4_b8(v, 0.0f, vl), vl)
static int vla_supported(void) { return (getauxval(AT_HWCAP) >> ('V' - 'A')) & 1; }

#include "simd_vla.h"
