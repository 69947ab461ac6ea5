/* The AVX-512 + FMA kernel table (x86_64-avx512 target). Softmax stays portable: it is bound by exp and
 * runs once per model. */
#include "avx512_common.h"

const char small_arch_isa[] = "avx512";

static const small_kernel_info avx512_kernels[SMALL_KERNEL_COUNT_] = {
    [SMALL_KERNEL_CONV] = {"f32-conv-12x32-avx512", avx512_conv_12x32, 12, 32},
    [SMALL_KERNEL_DWCONV] = {"f32-dwconv-6x128-avx512", avx512_dwconv_6x128, 6, 128},
    [SMALL_KERNEL_MAXPOOL] = {"f32-maxpool-6x128-avx512", avx512_maxpool_6x128, 6, 128},
    [SMALL_KERNEL_AVGPOOL] = {"f32-avgpool-6x128-avx512", avx512_avgpool_6x128, 6, 128},
    [SMALL_KERNEL_ADD] = {"f32-add-6x128-avx512", avx512_add_6x128, 6, 128},
    [SMALL_KERNEL_COPY] = {"f32-copy-6x128-avx512", avx512_copy_6x128, 6, 128},
};

const small_kernel_info *small_arch_kernel(small_kernel_kind kind) {
    return (unsigned)kind < SMALL_KERNEL_COUNT_ && avx512_kernels[kind].run ? &avx512_kernels[kind] : NULL;
}
