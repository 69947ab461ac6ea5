/* The ISA table of a build with portable kernels only (SMALL_ISA=ref): every kind falls back to
 * arch/ref. A SIMD folder replaces this file with its own table. */
#include "small_kernel.h"

const char small_arch_isa[] = "ref";

const small_kernel_info *small_arch_kernel(small_kernel_kind kind) {
    (void)kind;
    return NULL;
}
