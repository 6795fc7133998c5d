"""Parse the text of `/fmccert ...` into a request, or a short helpful answer (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.suggest import closest_match

VERBS = ("help", "check", "scan", "status", "remediate", "history")
ACTIONS = ("vdb-update", "restart")
USAGE = "/fmccert help | check NAME | scan [TAG] | status | remediate NAME [ACTION] | history NAME"


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """A well-formed command: the verb and its arguments."""

    verb: str
    names: tuple[str, ...] = ()
    tag: str | None = None
    action: str | None = None


@dataclass(frozen=True, slots=True)
class CommandProblem:
    """Why the text is not a command, said briefly and helpfully."""

    message: str


def _suggest(word: str, choices: Sequence[str]) -> str:
    match = closest_match(word, choices)
    return f"; did you mean `{match}`?" if match else ""


def _unknown_fmc(name: str, names: Sequence[str]) -> CommandProblem:
    hint = _suggest(name, names)
    if not hint:
        shown = ", ".join(f"`{n}`" for n in names[:6]) + (", ..." if len(names) > 6 else "")
        hint = f" (known: {shown})" if names else " (the config lists no FMC)"
    return CommandProblem(f"Unknown FMC `{name}`{hint}")


def parse_command(text: str, names: Sequence[str]) -> CommandRequest | CommandProblem:
    """``check fmc-east`` -> CommandRequest; ``chek fmc-east`` -> a problem with a hint."""
    words = text.split()
    if not words:
        return CommandRequest("help")
    verb, args = words[0].lower(), words[1:]
    if verb not in VERBS:
        return CommandProblem(f"Unknown command `{verb}`{_suggest(verb, VERBS)} Usage: `{USAGE}`")
    if verb in ("help", "status"):
        if args:
            return CommandProblem(f"`{verb}` takes no arguments. Usage: `{USAGE}`")
        return CommandRequest(verb)
    if verb == "scan":
        if len(args) > 1:
            return CommandProblem("`scan` takes at most one tag: `/fmccert scan [TAG]`")
        return CommandRequest(verb, tag=args[0] if args else None)
    if not args:
        return CommandProblem(f"`{verb}` needs an FMC name: `/fmccert {verb} NAME`")
    if verb == "check":
        for name in args:
            if name not in names:
                return _unknown_fmc(name, names)
        return CommandRequest(verb, names=tuple(dict.fromkeys(args)))
    name, rest = args[0], args[1:]
    if name not in names:
        return _unknown_fmc(name, names)
    if verb == "history":
        if rest:
            return CommandProblem("`history` takes one FMC name: `/fmccert history NAME`")
        return CommandRequest(verb, names=(name,))
    # remediate NAME [ACTION]
    if len(rest) > 1:
        return CommandProblem("Usage: `/fmccert remediate NAME [vdb-update|restart]`")
    action = rest[0].lower() if rest else "vdb-update"
    if action not in ACTIONS:
        return CommandProblem(f"Unknown action `{action}`{_suggest(action, ACTIONS)} "
                              "Actions: `vdb-update`, `restart`")  # fmt: skip
    return CommandRequest(verb, names=(name,), action=action)
