# CMake toolchain file for x86_64: x86-64 Linux, native (no emulator).
# Generated from toolchains/x86_64.toml by `invoke toolchain.cmake`; do not edit by hand.
# Use: cmake -S . -B build -G Ninja -DCMAKE_TOOLCHAIN_FILE=toolchains/x86_64.cmake

# Native build: tests run directly, without an emulator.
set(CMAKE_C_COMPILER "x86_64-linux-gnu-gcc")
set(CMAKE_C_FLAGS_INIT "")

# Kernel folder under arch/ and the flags its files need; -D on the command line overrides.
set(SMALL_ISA "avx2" CACHE STRING "Kernel folder under arch/")
set(SMALL_ISA_FLAGS "-mavx2 -mfma" CACHE STRING "Flags for the ISA kernels")
