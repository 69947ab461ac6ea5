"""Building a target with CMake and Ninja, and checking what was built: the ELF files, the vector FMAs in the
kernels, the ports' size and conformance."""
