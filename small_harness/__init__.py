"""Build and test harness for the SMaLL-style layer library: targets, toolchains, builds, checks."""
