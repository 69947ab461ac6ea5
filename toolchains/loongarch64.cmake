# CMake toolchain file for loongarch64: LoongArch64 (LA464: LSX, LASX), Linux, under qemu-loongarch64.
# Generated from toolchains/loongarch64.toml by `invoke toolchain.cmake`; do not edit by hand.
# Use: cmake -S . -B build -G Ninja -DCMAKE_TOOLCHAIN_FILE=toolchains/loongarch64.cmake

set(CMAKE_SYSTEM_NAME "Linux")
set(CMAKE_SYSTEM_PROCESSOR "loongarch64")
set(CMAKE_C_COMPILER "loongarch64-linux-gnu-gcc")
set(CMAKE_C_FLAGS_INIT "-march=loongarch64")

set(CMAKE_FIND_ROOT_PATH "/usr/loongarch64-linux-gnu")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM "NEVER")
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY "ONLY")
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE "ONLY")
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE "ONLY")

# ctest and add_test() run target binaries through QEMU user mode.
set(CMAKE_CROSSCOMPILING_EMULATOR "qemu-loongarch64;-cpu;la464;-L;/usr/loongarch64-linux-gnu")

# ctest runs the self-test once per variant (selftest@<variant>): each kernel table (forced
# with SMALL_KERNELS when there are several) at each of its vector lengths.
set(SMALL_TEST_VARIANTS "lasx;lsx")
set(SMALL_TEST_EMULATOR_lasx "qemu-loongarch64;-cpu;la464;-L;/usr/loongarch64-linux-gnu")
set(SMALL_TEST_ENVIRONMENT_lasx "SMALL_KERNELS=lasx")
set(SMALL_TEST_EMULATOR_lsx "qemu-loongarch64;-cpu;la464;-L;/usr/loongarch64-linux-gnu")
set(SMALL_TEST_ENVIRONMENT_lsx "SMALL_KERNELS=lsx")

# Kernel tables under arch/, best first (arch/ref's is always linked, last), and their flags;
# -D on the command line overrides.
set(SMALL_ISAS "lasx;lsx" CACHE STRING "Kernel tables under arch/, best first")
set(SMALL_ISA_FLAGS_lasx "-mlasx" CACHE STRING "Flags for arch/lasx/")
set(SMALL_ISA_FLAGS_lsx "-mlsx" CACHE STRING "Flags for arch/lsx/")
