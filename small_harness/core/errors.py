"""Errors the harness reports to the user as one line (tasks print them without a traceback)."""


class HarnessError(Exception):
    """A failure the user can act on. `message` is one line; `details` (optional) is extra
    output shown below it, such as the tail of a failed compiler run."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class UnknownTargetError(HarnessError):
    """An --arch name that is neither a target nor an alias."""


class TargetFileError(HarnessError):
    """A toolchains/*.toml file that is missing a field or has one of the wrong type."""


class MissingToolError(HarnessError):
    """A compiler, emulator or sysroot the target needs is not installed."""


class BuildError(HarnessError):
    """A configure or build command failed."""


class ElfMismatchError(HarnessError):
    """An artifact is not an ELF file for the target it claims to be built for."""
