"""Running the suites and the CI matrix: invoke test, the jobs of invoke ci, the clean rooms, the fuzzers and
the device benchmark's pack."""
