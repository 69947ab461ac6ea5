# CMake toolchain file for riscv64: RISC-V RV64GCV (vector 1.0), Linux, under qemu-riscv64.
# Generated from toolchains/riscv64.toml by `invoke toolchain.cmake`; do not edit by hand.
# Use: cmake -S . -B build -G Ninja -DCMAKE_TOOLCHAIN_FILE=toolchains/riscv64.cmake

set(CMAKE_SYSTEM_NAME "Linux")
set(CMAKE_SYSTEM_PROCESSOR "riscv64")
# The compiler: the first of these that is installed (they differ between Debian releases).
find_program(SMALL_C_COMPILER NAMES clang-16 clang-19 NO_CACHE)
if(NOT SMALL_C_COMPILER)
  message(FATAL_ERROR "riscv64: none of clang-16, clang-19 is installed; install one (apt-get install -y clang-16)")
endif()
set(CMAKE_C_COMPILER "${SMALL_C_COMPILER}")
set(CMAKE_C_COMPILER_TARGET "riscv64-linux-gnu")
set(CMAKE_C_FLAGS_INIT "-march=rv64gcv")

set(CMAKE_FIND_ROOT_PATH "/usr/riscv64-linux-gnu")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM "NEVER")
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY "ONLY")
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE "ONLY")
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE "ONLY")

# ctest and add_test() run target binaries through QEMU user mode.
set(CMAKE_CROSSCOMPILING_EMULATOR "qemu-riscv64;-cpu;rv64,v=true,vlen=128,rvv_ta_all_1s=true,rvv_ma_all_1s=true;-L;/usr/riscv64-linux-gnu")

# ctest runs the self-test once per variant (selftest@<variant>): each kernel table (forced
# with SMALL_KERNELS when there are several) at each of its vector lengths.
set(SMALL_TEST_VARIANTS "vlen128;vlen256;vlen512;vlen1024")
set(SMALL_TEST_EMULATOR_vlen128 "qemu-riscv64;-cpu;rv64,v=true,vlen=128,rvv_ta_all_1s=true,rvv_ma_all_1s=true;-L;/usr/riscv64-linux-gnu")
set(SMALL_TEST_EMULATOR_vlen256 "qemu-riscv64;-cpu;rv64,v=true,vlen=256,rvv_ta_all_1s=true,rvv_ma_all_1s=true;-L;/usr/riscv64-linux-gnu")
set(SMALL_TEST_EMULATOR_vlen512 "qemu-riscv64;-cpu;rv64,v=true,vlen=512,rvv_ta_all_1s=true,rvv_ma_all_1s=true;-L;/usr/riscv64-linux-gnu")
set(SMALL_TEST_EMULATOR_vlen1024 "qemu-riscv64;-cpu;rv64,v=true,vlen=1024,rvv_ta_all_1s=true,rvv_ma_all_1s=true;-L;/usr/riscv64-linux-gnu")

# Kernel tables under arch/, best first (arch/ref's is always linked, last), and their flags;
# -D on the command line overrides.
set(SMALL_ISAS "rvv" CACHE STRING "Kernel tables under arch/, best first")
set(SMALL_ISA_FLAGS_rvv "" CACHE STRING "Flags for arch/rvv/")
