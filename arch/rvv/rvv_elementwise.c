/* The one-tap kinds, add and copy (activations, concat slices, reshape): per pixel, one LMUL-8
 * group of channels loaded, combined, activated and stored. No accumulators, so no unrolling. */
#include "rvv_kernels.h"

/* `add` is a constant after inlining. */
RVV_INLINE void elementwise_tile(const small_tile *t, const int add) {
    const size_t vl = RVV_VL(t);
    for (int p = 0; p < t->pixels; ++p) {
        const ptrdiff_t in = p * t->x_pixel_step;
        vfloat32m8_t v = __riscv_vle32_v_f32m8(t->x + in, vl);
        if (add) v = __riscv_vfadd_vv_f32m8(v, __riscv_vle32_v_f32m8(t->x2 + in, vl), vl);
        RVV_ACTIVATE(v, t, vl);
        __riscv_vse32(t->y + p * t->y_pixel_step, v, vl);
    }
}

void rvv_add(const small_tile *t) { elementwise_tile(t, 1); }
void rvv_copy(const small_tile *t) { elementwise_tile(t, 0); }
