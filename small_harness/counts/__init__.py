"""Instruction counts under emulation: the QEMU plugin, counting ResNet-8 per layer, the committed baselines
and their check."""
