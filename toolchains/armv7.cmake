# CMake toolchain file for armv7: ARMv7-A with NEON, hard-float, Linux, under qemu-arm.
# Generated from toolchains/armv7.toml by `invoke toolchain.cmake`; do not edit by hand.
# Use: cmake -S . -B build -G Ninja -DCMAKE_TOOLCHAIN_FILE=toolchains/armv7.cmake

set(CMAKE_SYSTEM_NAME "Linux")
set(CMAKE_SYSTEM_PROCESSOR "armv7l")
set(CMAKE_C_COMPILER "arm-linux-gnueabihf-gcc")
set(CMAKE_C_FLAGS_INIT "-march=armv7-a -mfpu=neon -mfloat-abi=hard")

set(CMAKE_FIND_ROOT_PATH "/usr/arm-linux-gnueabihf")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM "NEVER")
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY "ONLY")
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE "ONLY")
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE "ONLY")

# ctest and add_test() run target binaries through QEMU user mode.
set(CMAKE_CROSSCOMPILING_EMULATOR "qemu-arm;-cpu;cortex-a15;-L;/usr/arm-linux-gnueabihf")

# Kernel tables under arch/, best first (arch/ref's is always linked, last), and their flags;
# -D on the command line overrides.
set(SMALL_ISAS "neon" CACHE STRING "Kernel tables under arch/, best first")
set(SMALL_ISA_FLAGS_neon "-mfpu=neon-vfpv4" CACHE STRING "Flags for arch/neon/")
