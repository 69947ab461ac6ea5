# CMake toolchain file for aarch64: ARMv8-A AArch64, Linux, under qemu-aarch64.
# Generated from toolchains/aarch64.toml by `invoke toolchain.cmake`; do not edit by hand.
# Use: cmake -S . -B build -G Ninja -DCMAKE_TOOLCHAIN_FILE=toolchains/aarch64.cmake

set(CMAKE_SYSTEM_NAME "Linux")
set(CMAKE_SYSTEM_PROCESSOR "aarch64")
set(CMAKE_C_COMPILER "aarch64-linux-gnu-gcc")
set(CMAKE_C_FLAGS_INIT "-march=armv8-a")

set(CMAKE_FIND_ROOT_PATH "/usr/aarch64-linux-gnu")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM "NEVER")
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY "ONLY")
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE "ONLY")
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE "ONLY")

# ctest and add_test() run target binaries through QEMU user mode.
set(CMAKE_CROSSCOMPILING_EMULATOR "qemu-aarch64;-cpu;max;-L;/usr/aarch64-linux-gnu")

# Kernel tables under arch/, best first (arch/ref's is always linked, last), and their flags;
# -D on the command line overrides.
set(SMALL_ISAS "asimd" CACHE STRING "Kernel tables under arch/, best first")
set(SMALL_ISA_FLAGS_asimd "-fno-schedule-insns" CACHE STRING "Flags for arch/asimd/")
