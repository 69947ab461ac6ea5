/* The AVX2 + FMA kernel table (x86_64 target). Softmax stays portable: it is bound by exp and
 * runs once per model. */
#include "avx2_common.h"

const char small_arch_isa[] = "avx2";

static const small_kernel_info avx2_kernels[SMALL_KERNEL_COUNT_] = {
    [SMALL_KERNEL_CONV] = {"f32-conv-6x16-avx2", avx2_conv_6x16, 6, 16},
    [SMALL_KERNEL_DWCONV] = {"f32-dwconv-6x64-avx2", avx2_dwconv_6x64, 6, 64},
    [SMALL_KERNEL_MAXPOOL] = {"f32-maxpool-6x64-avx2", avx2_maxpool_6x64, 6, 64},
    [SMALL_KERNEL_AVGPOOL] = {"f32-avgpool-6x64-avx2", avx2_avgpool_6x64, 6, 64},
    [SMALL_KERNEL_ADD] = {"f32-add-6x64-avx2", avx2_add_6x64, 6, 64},
    [SMALL_KERNEL_COPY] = {"f32-copy-6x64-avx2", avx2_copy_6x64, 6, 64},
};

const small_kernel_info *small_arch_kernel(small_kernel_kind kind) {
    return (unsigned)kind < SMALL_KERNEL_COUNT_ && avx2_kernels[kind].run ? &avx2_kernels[kind] : NULL;
}
