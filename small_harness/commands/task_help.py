"""`invoke TASK --help` for the tasks with positional arguments (new-arch, new-isa, run, repro, debug,
bench.against). invoke (3.0) fills a task's missing positional arguments before it looks for the help
flag, so `invoke new-arch --help` took "--help" as the NAME and failed with "'new-arch' did not receive
required positional arguments: 'triple'" (pyinvoke/invoke#982, open), and `invoke repro --help` tried to
read a case file named --help. help_before_positionals() makes its parser take --help and -h there as
the help flag, as it does after a task without positional arguments."""

from __future__ import annotations

from typing import Any

from invoke.parser.parser import ParseMachine

_PATCHED = "_small_help_before_positionals"


def _asks_for_help(machine: Any, token: str) -> bool:
    """The token is the core --help (or -h) given after a task that still waits for positional arguments,
    where it is neither one of the task's own flags nor the value of one."""
    context, initial = machine.context, machine.initial
    if machine.current_state != "context" or context is None or context is initial:
        return False
    if token in context.flags or token not in initial.flags or initial.flags[token].name != "help":
        return False
    return bool(context.missing_positional_args) and not machine.waiting_for_flag_value


def help_before_positionals() -> None:
    """Installs the check in invoke's parser, once; tasks.py calls it, which invoke imports before it
    parses the tasks' arguments."""
    handle = ParseMachine.handle
    if getattr(handle, _PATCHED, False):
        return

    def handle_help_first(machine: ParseMachine, token: str) -> None:
        if not _asks_for_help(machine, token):
            handle(machine, token)
            return
        context = machine.context
        machine.initial.flags[token].value = context.name  # as invoke does after a task without positionals
        context.positional_args = []  # so that the task's context completes: only its help is printed

    setattr(handle_help_first, _PATCHED, True)
    ParseMachine.handle = handle_help_first  # type: ignore[method-assign]
