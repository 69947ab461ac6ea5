# CMake toolchain file for aarch64-sanitizers: ARMv8-A AArch64 with ASan and UBSan (GCC), Linux, under qemu-aarch64.
# Generated from toolchains/aarch64-sanitizers.toml by `invoke toolchain.cmake`; do not edit by hand.
# Use: cmake -S . -B build -G Ninja -DCMAKE_TOOLCHAIN_FILE=toolchains/aarch64-sanitizers.cmake

set(CMAKE_SYSTEM_NAME "Linux")
set(CMAKE_SYSTEM_PROCESSOR "aarch64")
set(CMAKE_C_COMPILER "aarch64-linux-gnu-gcc")
set(CMAKE_C_FLAGS_INIT "-march=armv8-a -fsanitize=undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g")
set(CMAKE_C_FLAGS_RELEASE "-O1 -DNDEBUG" CACHE STRING "")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-fsanitize=undefined")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-fsanitize=undefined")

set(CMAKE_FIND_ROOT_PATH "/usr/aarch64-linux-gnu")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM "NEVER")
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY "ONLY")
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE "ONLY")
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE "ONLY")

# ctest and add_test() run target binaries through QEMU user mode.
set(CMAKE_CROSSCOMPILING_EMULATOR "env;ASAN_OPTIONS=detect_leaks=0;qemu-aarch64;-cpu;max;-L;/usr/aarch64-linux-gnu")

# ctest runs the self-test once per variant (selftest@<variant>): each kernel table (forced
# with SMALL_KERNELS when there are several) at each of its vector lengths.
set(SMALL_TEST_VARIANTS "sve-vlen256;asimd")
set(SMALL_TEST_EMULATOR_sve-vlen256 "env;ASAN_OPTIONS=detect_leaks=0;qemu-aarch64;-cpu;max,sve256=on,sve-default-vector-length=-1;-L;/usr/aarch64-linux-gnu")
set(SMALL_TEST_ENVIRONMENT_sve-vlen256 "SMALL_KERNELS=sve")
set(SMALL_TEST_EMULATOR_asimd "env;ASAN_OPTIONS=detect_leaks=0;qemu-aarch64;-cpu;max;-L;/usr/aarch64-linux-gnu")
set(SMALL_TEST_ENVIRONMENT_asimd "SMALL_KERNELS=asimd")

# Kernel tables under arch/, best first (arch/ref's is always linked, last), and their flags;
# -D on the command line overrides.
set(SMALL_ISAS "sve;asimd" CACHE STRING "Kernel tables under arch/, best first")
set(SMALL_ISA_FLAGS_sve "-march=armv8.2-a+sve" CACHE STRING "Flags for arch/sve/")
set(SMALL_ISA_FLAGS_asimd "-fno-schedule-insns" CACHE STRING "Flags for arch/asimd/")
