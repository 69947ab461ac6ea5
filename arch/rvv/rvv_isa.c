/* The RVV kernel table. Channel tiles are one register group of each kernel's LMUL, so they follow
 * the hardware vector length; plan packs weights with them, on the same hart, so they agree. */
#include "rvv_kernels.h"

const char small_arch_isa[] = "rvv";

/* channel_tile is filled on first use: VLMAX is not a compile-time constant. */
static small_kernel_info rvv_kernels[SMALL_KERNEL_COUNT_] = {
    [SMALL_KERNEL_CONV] = {"f32-conv-7xm4-rvv", rvv_conv, RVV_CONV_PIXELS, 0},
    [SMALL_KERNEL_DWCONV] = {"f32-dwconv-8xm2-rvv", rvv_dwconv, RVV_WINDOW_PIXELS, 0},
    [SMALL_KERNEL_MAXPOOL] = {"f32-maxpool-8xm2-rvv", rvv_maxpool, RVV_WINDOW_PIXELS, 0},
    [SMALL_KERNEL_AVGPOOL] = {"f32-avgpool-8xm2-rvv", rvv_avgpool, RVV_WINDOW_PIXELS, 0},
    [SMALL_KERNEL_ADD] = {"f32-add-8xm8-rvv", rvv_add, RVV_ELEMENTWISE_PIXELS, 0},
    [SMALL_KERNEL_COPY] = {"f32-copy-8xm8-rvv", rvv_copy, RVV_ELEMENTWISE_PIXELS, 0},
    [SMALL_KERNEL_SOFTMAX] = {"f32-softmax-8xall-rvv", rvv_softmax, RVV_ELEMENTWISE_PIXELS, 0}, /* stays 0 */
};

const small_kernel_info *small_arch_kernel(small_kernel_kind kind) {
    if ((unsigned)kind >= SMALL_KERNEL_COUNT_ || !rvv_kernels[kind].run) return NULL;
    if (!rvv_kernels[SMALL_KERNEL_CONV].channel_tile) {
        /* Idempotent: every caller writes the same values. */
        const int m2 = (int)__riscv_vsetvlmax_e32m2(), m4 = (int)__riscv_vsetvlmax_e32m4();
        const int m8 = (int)__riscv_vsetvlmax_e32m8();
        rvv_kernels[SMALL_KERNEL_DWCONV].channel_tile = m2;
        rvv_kernels[SMALL_KERNEL_MAXPOOL].channel_tile = m2;
        rvv_kernels[SMALL_KERNEL_AVGPOOL].channel_tile = m2;
        rvv_kernels[SMALL_KERNEL_ADD].channel_tile = m8;
        rvv_kernels[SMALL_KERNEL_COPY].channel_tile = m8;
        rvv_kernels[SMALL_KERNEL_CONV].channel_tile = m4; /* last: it marks the table as filled */
    }
    return &rvv_kernels[kind];
}
