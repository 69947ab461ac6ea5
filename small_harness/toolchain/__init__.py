"""Where target code is built and run: the host's cross compilers and QEMU, or a Docker toolchain image per
target (docker/), and the bridge that runs a bare-metal program under QEMU system mode."""
