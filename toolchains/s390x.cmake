# CMake toolchain file for s390x: IBM z14 (s390x), big-endian, Linux, under qemu-s390x.
# Generated from toolchains/s390x.toml by `invoke toolchain.cmake`; do not edit by hand.
# Use: cmake -S . -B build -G Ninja -DCMAKE_TOOLCHAIN_FILE=toolchains/s390x.cmake

set(CMAKE_SYSTEM_NAME "Linux")
set(CMAKE_SYSTEM_PROCESSOR "s390x")
set(CMAKE_C_COMPILER "s390x-linux-gnu-gcc")
set(CMAKE_C_FLAGS_INIT "-march=z14")

set(CMAKE_FIND_ROOT_PATH "/usr/s390x-linux-gnu")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM "NEVER")
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY "ONLY")
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE "ONLY")
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE "ONLY")

# ctest and add_test() run target binaries through QEMU user mode.
set(CMAKE_CROSSCOMPILING_EMULATOR "qemu-s390x;-cpu;max;-L;/usr/s390x-linux-gnu")

# Kernel tables under arch/, best first (arch/ref's is always linked, last), and their flags;
# -D on the command line overrides.
set(SMALL_ISAS "zvector" CACHE STRING "Kernel tables under arch/, best first")
set(SMALL_ISA_FLAGS_zvector "-mzvector" CACHE STRING "Flags for arch/zvector/")
