"""The commands behind tasks.py, one module per command: what each prints and in what order, calling
the subpackages that do the work. tasks.py only declares the commands and their flags."""
