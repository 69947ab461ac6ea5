# CMake toolchain file for cortex-m4: Cortex-M4F, bare metal (picolibc, semihosting), portable kernels, under qemu-system-arm on MPS2 AN386.
# Generated from toolchains/cortex-m4.toml by `invoke toolchain.cmake`; do not edit by hand.
# Use: cmake -S . -B build -G Ninja -DCMAKE_TOOLCHAIN_FILE=toolchains/cortex-m4.cmake

# Bare metal: CMakeLists.txt links with toolchains/<SMALL_BOARD>.ld and builds without threads.
set(CMAKE_SYSTEM_NAME "Generic")
set(CMAKE_SYSTEM_PROCESSOR "arm")
set(CMAKE_TRY_COMPILE_TARGET_TYPE "STATIC_LIBRARY")
set(SMALL_BOARD "cortex-m4")
set(SMALL_TEST_LINK_FLAGS "-Wl,--defsym=__small_ram=0x21000000 -Wl,--defsym=__small_ram_size=0x1000000")
set(CMAKE_C_COMPILER "arm-none-eabi-gcc")
set(CMAKE_C_FLAGS_INIT "-mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard -mthumb --specs=picolibc.specs")
set(CMAKE_EXE_LINKER_FLAGS_INIT "--oslib=semihost --crt0=semihost")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "--oslib=semihost --crt0=semihost")

# ctest and add_test() boot target binaries in QEMU system mode, with semihosting.
set(CMAKE_CROSSCOMPILING_EMULATOR "${CMAKE_SOURCE_DIR}/small_harness/toolchain/semihost_run.sh;qemu-system-arm;-M;mps2-an386;-cpu;cortex-m4;-nographic")

# Kernel tables under arch/, best first (arch/ref's is always linked, last), and their flags;
# -D on the command line overrides.
set(SMALL_ISAS "" CACHE STRING "Kernel tables under arch/, best first")
