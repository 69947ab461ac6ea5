# CMake toolchain file for x86_64-tsan: x86-64 Linux with ThreadSanitizer (clang), native (no emulator).
# Generated from toolchains/x86_64-tsan.toml by `invoke toolchain.cmake`; do not edit by hand.
# Use: cmake -S . -B build -G Ninja -DCMAKE_TOOLCHAIN_FILE=toolchains/x86_64-tsan.cmake

# Native build: tests run directly, without an emulator.
# The compiler: the first of these that is installed (they differ between Debian releases).
find_program(SMALL_C_COMPILER NAMES clang-16 clang-19 NO_CACHE)
if(NOT SMALL_C_COMPILER)
  message(FATAL_ERROR "x86_64-tsan: none of clang-16, clang-19 is installed; install one (apt-get install -y clang-16)")
endif()
set(CMAKE_C_COMPILER "${SMALL_C_COMPILER}")
set(CMAKE_C_COMPILER_TARGET "x86_64-linux-gnu")
set(CMAKE_C_FLAGS_INIT "-fsanitize=thread -fno-omit-frame-pointer -g -DSIMD_NO_UNROLL")
set(CMAKE_C_FLAGS_RELEASE "-O1 -DNDEBUG" CACHE STRING "")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-fsanitize=thread")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-fsanitize=thread")

# Kernel tables under arch/, best first (arch/ref's is always linked, last), and their flags;
# -D on the command line overrides.
set(SMALL_ISAS "avx2" CACHE STRING "Kernel tables under arch/, best first")
set(SMALL_ISA_FLAGS_avx2 "-mavx2 -mfma" CACHE STRING "Flags for arch/avx2/")
