/* RISC-V vector extension 1.0: the primitives of arch/template/simd_vla.h. A vector is a register
 * group of LMUL VLEN-bit registers: LMUL 4 (VLEN / 8 floats) for every kind, and conv also in groups
 * of 2, 1 and 1/2, so that a layer of few channels on a long vector fills its lanes (the library
 * takes per layer the group leaving the fewest idle). The tile follows VLEN at run time, so one binary
 * runs at every vector length. A tile's channels never exceed VLMAX, so they are the vector length as
 * they are: no vsetvl intrinsic, with which clang re-issues vsetvli inside the loops. The primitives
 * expand VLA_GROUP (m4, m2, m1, mf2); the overloaded intrinsics take the group from their operands. */
#include <riscv_vector.h>
#include <sys/auxv.h>

#define VLA_ISA rvv
#define VLA_VECTOR m4
/* 32 registers: 7 LMUL-4 accumulators and one weight group (conv); 4 and the inputs (windows). The
 * narrower groups have registers for 8 accumulators and the weights. */
#define VLA_CONV_PIXELS 7
#define VLA_WINDOW_PIXELS 4
#define VLA_PEAK_CHAINS 6
#define VLA_CONV_GROUPS 4
#define VLA_CONV_GROUP_1 m2
#define VLA_CONV_PIXELS_1 8
#define VLA_CONV_GROUP_2 m1
#define VLA_CONV_PIXELS_2 8
#define VLA_CONV_GROUP_3 mf2
#define VLA_CONV_PIXELS_3 8

#define RVV_CAT_(a, b) a##b
#define RVV_CAT(a, b) RVV_CAT_(a, b)
#define vla_v RVV_CAT(RVV_CAT(vfloat32, VLA_GROUP), _t)
typedef size_t vla_tail; /* the vector length */

#define vla_lanes() ((int)RVV_CAT(__riscv_vsetvlmax_e32, VLA_GROUP)())
#define vla_tail_of(n) ((size_t)(n))
#define vla_load(p, vl) RVV_CAT(__riscv_vle32_v_f32, VLA_GROUP)(p, vl)
#define vla_store(p, v, vl) __riscv_vse32(p, v, vl)
#define vla_dup(x, vl) RVV_CAT(__riscv_vfmv_v_f_f32, VLA_GROUP)(x, vl)
#define vla_fma_scalar(acc, w, x, vl) __riscv_vfmacc(acc, x, w, vl)
#define vla_fma(acc, a, b, vl) __riscv_vfmacc(acc, a, b, vl)
#define vla_add(a, b, vl) __riscv_vfadd(a, b, vl)
#define vla_mul_scalar(a, x, vl) __riscv_vfmul(a, x, vl)
/* vfmax and vfmin return the other operand for a NaN: where either is NaN, give a + b, a NaN. */
#define vla_keep_nan(r, a, b, vl) __riscv_vfadd_mu(__riscv_vmor(__riscv_vmfne(a, a, vl), __riscv_vmfne(b, b, vl), vl), r, a, b, vl)
#define vla_max(a, b, vl) vla_keep_nan(__riscv_vfmax(a, b, vl), a, b, vl)
#define vla_min(a, b, vl) vla_keep_nan(__riscv_vfmin(a, b, vl), a, b, vl)
#define vla_neg_select(v, a, vl) __riscv_vmerge(v, a, __riscv_vmflt(v, 0.0f, vl), vl)
static int vla_supported(void) { return (getauxval(AT_HWCAP) >> ('V' - 'A')) & 1; }

#include "simd_vla.h"
