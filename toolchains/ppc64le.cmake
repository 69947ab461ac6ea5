# CMake toolchain file for ppc64le: POWER9 little-endian (ppc64le), Linux, under qemu-ppc64le.
# Generated from toolchains/ppc64le.toml by `invoke toolchain.cmake`; do not edit by hand.
# Use: cmake -S . -B build -G Ninja -DCMAKE_TOOLCHAIN_FILE=toolchains/ppc64le.cmake

set(CMAKE_SYSTEM_NAME "Linux")
set(CMAKE_SYSTEM_PROCESSOR "ppc64le")
set(CMAKE_C_COMPILER "powerpc64le-linux-gnu-gcc")
set(CMAKE_C_FLAGS_INIT "-mcpu=power9")

set(CMAKE_FIND_ROOT_PATH "/usr/powerpc64le-linux-gnu")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM "NEVER")
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY "ONLY")
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE "ONLY")
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE "ONLY")

# ctest and add_test() run target binaries through QEMU user mode.
set(CMAKE_CROSSCOMPILING_EMULATOR "qemu-ppc64le;-cpu;power9;-L;/usr/powerpc64le-linux-gnu")

# Kernel tables under arch/, best first (arch/ref's is always linked, last), and their flags;
# -D on the command line overrides.
set(SMALL_ISAS "vsx" CACHE STRING "Kernel tables under arch/, best first")
set(SMALL_ISA_FLAGS_vsx "" CACHE STRING "Flags for arch/vsx/")
