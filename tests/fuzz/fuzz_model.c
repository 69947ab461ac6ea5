/* libFuzzer target: the model loader on any bytes, then one inference of whatever it accepts. Built
 * natively with ASan and UBSan by `invoke fuzz` (CMake: -DSMALL_FUZZ=ON). Nothing here may crash,
 * read or write out of bounds, or trip UBSan; a refusal is a normal outcome. */
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_set_limits();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_load_and_run(data, size);
    return 0;
}
