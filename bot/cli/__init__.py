"""The `fmccert` command line: the composition root of every subcommand.

Expected problems (bad config, unknown names, usage, a refused or busy remediation) print
one line and exit 3; nothing the user typed produces a traceback. Exit statuses of
check/scan follow monitoring plugins (see ``bot.core.findings.exit_status``); those of
remediate are documented in the README. When the reader of stdout goes away
(``fmccert scan --json | head -1``) the command stops quietly with
``EXIT_BROKEN_PIPE``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from bot import __version__
from bot.cli.output import EXIT_BROKEN_PIPE, drop_stdout, stdout_closed
from bot.core.findings import EXIT_UNKNOWN
from bot.errors import FmccertError, UsageError
from bot.logs import configure_logging

log = logging.getLogger("bot.cli")
ACTIONS = ("vdb-update", "restart")


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors with exit status 3, as the contract says."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_UNKNOWN, f"{self.prog}: error: {message}\n")


class _VersionAction(argparse.Action):
    """``--version``: ``fmccert 0.1.0 (schema 0006)``, the schema being the Alembic head.

    Like argparse's ``version`` action, but the text is computed only when asked: the
    schema head is read from the shipped migrations, which needs Alembic.
    """

    def __init__(
        self,
        option_strings: Sequence[str],
        dest: str = argparse.SUPPRESS,
        default: str = argparse.SUPPRESS,
        help: str | None = None,
    ) -> None:
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> NoReturn:
        from bot.version import version_text

        try:
            text = version_text()
        except Exception as exc:  # a broken install: one line, no traceback
            parser.exit(70, f"fmccert {__version__}: cannot read the schema revision: {exc}\n")
        print(text)
        parser.exit(0)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    common = _Parser(add_help=False)
    common.add_argument(
        "-c",
        "--config",
        metavar="PATH",
        help="config file (default: $FMCCERT_CONFIG, else config/fmccert.yaml)",
    )
    common.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    parser = _Parser(
        prog="fmccert",
        description="Find and fix Cisco FMCs whose Talos client certificate will not renew "
        "(CSCwo63951, field notice FN74272).",
    )
    parser.add_argument(
        "--version",
        action=_VersionAction,
        help="show the version and the database schema revision it migrates to, then exit",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    check = commands.add_parser("check", parents=[common], help="check the named FMCs")
    check.add_argument("names", nargs="+", metavar="NAME", help="FMC names from the config")
    check.add_argument("--json", action="store_true", help="print a JSON array")

    scan = commands.add_parser("scan", parents=[common], help="check every FMC concurrently")
    scan.add_argument("--tag", help="only FMCs with this tag")
    scan.add_argument("--json", action="store_true", help="print a JSON array")

    remediate = commands.add_parser(
        "remediate", parents=[common], help="run a fix without Slack (break-glass)"
    )
    remediate.add_argument("name", metavar="NAME")
    remediate.add_argument("--action", required=True, choices=ACTIONS)
    mode = remediate.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="print the exact steps, run none")
    mode.add_argument("--yes", action="store_true", help="run without asking")

    status = commands.add_parser(
        "status", parents=[common], help="the fleet from the last results (no SSH)"
    )
    status.add_argument("--json", action="store_true", help="print JSON")

    history = commands.add_parser(
        "history", parents=[common], help="remediations and the audit log, newest first"
    )
    history.add_argument("name", nargs="?", metavar="NAME")
    history.add_argument("--json", action="store_true", help="print JSON")
    history.add_argument("--limit", type=int, default=50, help="entries of each kind")

    run = commands.add_parser("run", parents=[common], help="the Slack bot")
    run.add_argument("--host", default="127.0.0.1", help="HTTP address (0.0.0.0 for all)")
    run.add_argument("--port", type=int, default=3000, help="HTTP port (default 3000)")

    trust = commands.add_parser(
        "trust", parents=[common], help="show an FMC's host key and add it to known_hosts"
    )
    trust.add_argument("name", metavar="NAME")
    trust.add_argument("--yes", action="store_true", help="add the key without asking")
    trust.add_argument(
        "--replace",
        action="store_true",
        help="allow replacing a key that differs from the one in known_hosts",
    )

    lab = commands.add_parser("lab", parents=[common], help="run emulated FMCs on loopback")
    lab.add_argument("--count", type=int, default=None, help="number of FMCs (default: catalog)")
    lab.add_argument(
        "--scenario",
        action="append",
        metavar="NAME",
        help="scenario to use (repeatable; cycled over --count); default: all",
    )
    lab.add_argument("--write-config", metavar="PATH", help="write a matching config here")
    lab.add_argument(
        "--command-delay", type=float, default=0.0, metavar="SECONDS", help="delay per command"
    )
    lab.add_argument(
        "--install-delay",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="how long a VDB install takes",
    )
    lab.add_argument(
        "--rest",
        action="store_true",
        help="also serve each FMC's REST API over HTTPS (self-signed certificate per host)",
    )
    lab.add_argument(
        "--access",
        choices=("ssh", "rest", "both"),
        default=None,
        help="how the written config reads the FMCs (default: both with --rest, else ssh)",
    )
    lab.add_argument("--list-scenarios", action="store_true", help="list scenarios and exit")

    demo = commands.add_parser(
        "demo",
        parents=[common],
        help="the whole product on loopback with a local Slack console: no FMC or Slack needed",
    )
    demo.add_argument("--port", type=int, default=8080, help="console port (default 8080)")
    demo.add_argument(
        "--scan-minutes", type=int, default=5, help="scheduled scan interval (default 5)"
    )
    demo.add_argument("--folder", help="keep the demo's config and database here")
    demo.add_argument(
        "--scan-only", action="store_true", help="just scan a lab fleet once and print it"
    )
    demo.add_argument("--json", action="store_true", help="with --scan-only: print JSON")
    return parser


def _commands() -> dict[str, Callable[[argparse.Namespace], int]]:
    from bot.cli.fleet import command_check, command_scan, command_trust
    from bot.cli.lab import command_demo, command_lab
    from bot.cli.remediate import command_history, command_remediate
    from bot.cli.run import command_run
    from bot.cli.status import command_status

    return {
        "check": command_check,
        "scan": command_scan,
        "trust": command_trust,
        "remediate": command_remediate,
        "history": command_history,
        "status": command_status,
        "run": command_run,
        "lab": command_lab,
        "demo": command_demo,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script and of ``python -m bot``."""
    try:
        try:
            return _main(argv)
        finally:
            # Flushed here rather than at exit, where a closed pipe prints "Exception ignored".
            sys.stdout.flush()
    except BrokenPipeError:  # stdout's reader left (another pipe's is an internal error)
        drop_stdout()
        return EXIT_BROKEN_PIPE


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(verbose=args.verbose, stream=sys.stderr)
    try:
        if getattr(args, "limit", 1) < 1:
            raise UsageError("--limit must be at least 1")
        return _commands()[args.command](args)
    except FmccertError as exc:
        print(f"fmccert: error: {exc}", file=sys.stderr)
        return EXIT_UNKNOWN
    except KeyboardInterrupt:
        print("fmccert: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line for the user, the traceback in the log
        if isinstance(exc, BrokenPipeError) and stdout_closed():
            raise  # not a bug: the reader of our output left, main() stops quietly
        log.debug("internal error", exc_info=True)
        print(
            f"fmccert: internal error: {type(exc).__name__}: {exc} (run with -v for details)",
            file=sys.stderr,
        )
        return 70
