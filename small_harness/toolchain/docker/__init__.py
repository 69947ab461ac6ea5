"""The Docker backend: the engine, its probe, the base and toolchain images, and the long-lived container per
target and checkout."""
