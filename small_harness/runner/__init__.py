"""The runner: the Python API's layer descriptions, the wire protocol, the client of a long-lived small_runner
process, launching one for a variant, and replaying a saved case (repro, debug)."""
