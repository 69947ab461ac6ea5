/* libFuzzer target: the pre-packed loader (model_file.h's version 3), then one inference of what it
 * accepts. Seeded with the MLPerf Tiny models packed by this very build (`invoke fuzz`), so mutations
 * start from files whose kernels and tiles match. The checksum would refuse nearly every mutation before
 * the checks behind it, so a file with the packed version and room for its checksum gets it computed
 * anew first: the fuzzer explores the header, tables, signatures and regions as an attacker who writes a
 * valid checksum would (the checksum itself is the loader's first check, which the model fuzzer and the
 * target suite cover). */
#include "fuzz_common.h"
#include "model_file.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_set_limits();
    return 0;
}

/* The file with its checksum made right, where it has one to make right. */
static void reseal(uint8_t *file, size_t size) {
    if (size < 4 * SMALL_FILE_HEADER_WORDS || memcmp(file, "SMLM", 4) ||
        small_file_word(file, 1) != SMALL_FILE_VERSION_PACKED)
        return;
    const int32_t n_tensors = small_file_word(file, 2), n_layers = small_file_word(file, 3);
    const int32_t weights_offset = small_file_word(file, 6), weights_count = small_file_word(file, 7);
    if (n_tensors < 1 || n_tensors > SMALL_FILE_MAX_TENSORS || n_layers < 1 || n_layers > SMALL_FILE_MAX_TENSORS ||
        weights_offset < 0 || weights_count < 0)
        return;
    const small_file_packed_layout layout = small_file_packed_layout_of(n_tensors, n_layers);
    const uint64_t end = (uint64_t)weights_offset + 4 * (uint64_t)weights_count;
    if (layout.checksum_at + 4 > end || end > size) return;
    small_file_put_word(file, layout.checksum_at / 4,
                        (int32_t)small_file_packed_checksum(file, layout.checksum_at, (size_t)end));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *file = malloc(size ? size : 1);
    if (!file) return 0;
    memcpy(file, data, size);
    reseal(file, size);
    fuzz_load_and_run(file, size);
    free(file);
    return 0;
}
