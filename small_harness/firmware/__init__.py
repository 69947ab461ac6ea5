"""Bare-metal firmware: one model embedded in a firmware image, built, run under QEMU, and sized against its
board (invoke size)."""
