"""The files made from the targets' TOML: CMake toolchain files, bare-metal linker scripts, the GitHub
workflow and the README's target table (invoke generate)."""
