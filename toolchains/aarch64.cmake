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

# Kernel folder under arch/ and the flags its files need; -D on the command line overrides.
set(SMALL_ISA "asimd" CACHE STRING "Kernel folder under arch/")
set(SMALL_ISA_FLAGS "-fno-schedule-insns" CACHE STRING "Flags for the ISA kernels")
