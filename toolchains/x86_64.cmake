# CMake toolchain file for x86_64: x86-64 Linux, native (no emulator).
# Generated from toolchains/x86_64.toml by `invoke toolchain.cmake`; do not edit by hand.
# Use: cmake -S . -B build -G Ninja -DCMAKE_TOOLCHAIN_FILE=toolchains/x86_64.cmake

# Native build: tests run directly, without an emulator.
set(CMAKE_C_COMPILER "x86_64-linux-gnu-gcc")
set(CMAKE_C_FLAGS_INIT "")

# ctest runs the self-test once per variant (selftest@<variant>): each kernel table (forced
# with SMALL_KERNELS when there are several) at each of its vector lengths.
set(SMALL_TEST_VARIANTS "avx512;avx2;ref")
set(SMALL_TEST_EMULATOR_avx512 "")
set(SMALL_TEST_ENVIRONMENT_avx512 "SMALL_KERNELS=avx512")
set(SMALL_TEST_EMULATOR_avx2 "")
set(SMALL_TEST_ENVIRONMENT_avx2 "SMALL_KERNELS=avx2")
set(SMALL_TEST_EMULATOR_ref "")
set(SMALL_TEST_ENVIRONMENT_ref "SMALL_KERNELS=ref")

# Kernel tables under arch/, best first (arch/ref's is always linked, last), and their flags;
# -D on the command line overrides.
set(SMALL_ISAS "avx512;avx2" CACHE STRING "Kernel tables under arch/, best first")
set(SMALL_ISA_FLAGS_avx512 "-mavx512f -mfma" CACHE STRING "Flags for arch/avx512/")
set(SMALL_ISA_FLAGS_avx2 "-mavx2 -mfma" CACHE STRING "Flags for arch/avx2/")
