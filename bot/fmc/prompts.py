"""What an FMC terminal says, as pure functions: clean the byte stream, spot prompts, cut output.

No I/O here: :mod:`bot.fmc.session` feeds bytes in and acts on the answers. Every match is
anchored at the *end* of what was received, because a prompt is only a prompt when the
FMC has stopped talking and waits for us.
"""

from __future__ import annotations

import codecs
import enum
import re
import shlex
from collections.abc import Sequence

# Escape sequences a PTY session may carry (colours, titles, bracketed paste, charset
# switches). Order matters: the specific introducers (CSI, OSC, DCS...) come before the
# generic two-byte forms, which exclude those introducers so that a sequence cut in half
# at a chunk boundary is held back rather than half-stripped.
_ANSI = re.compile(
    r"""
      \x1b\[[0-?]*[ -/]*[@-~]              # CSI: colours, cursor, ?2004h bracketed paste
    | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)    # OSC: window title, ended by BEL or ST
    | \x1b[PX^_][^\x1b]*\x1b\\             # DCS / SOS / PM / APC strings
    | \x1b[ -/]+[0-~]                      # nF: charset designation such as ESC ( B
    | \x1b[0-?]                            # Fp: ESC 7, ESC =, ESC >
    | \x1b[@-OQ-WYZ\\`-~]                  # Fe / Fs without the string introducers
    """,
    re.VERBOSE,
)
# C0 controls that carry no text (BEL, backspace, NUL...), DEL and C1 (U+0080-U+009F,
# e.g. the 8-bit CSI); \t, \n, \r and ESC are handled elsewhere.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f-\x9f]")
_CR_NEWLINE = re.compile(r"\r+\n")
# An escape sequence longer than this is noise, not a sequence in flight.
_MAX_PENDING_ESCAPE = 4096

# How much of the end of the buffer a prompt check looks at: prompts are one short line.
PROMPT_WINDOW = 512

_CLISH_PROMPT = re.compile(r"^> *$")
# `admin@firepower:~$ `, `[admin@fmc /opt]$ `, `bash-4.4$ `, bare `$ ` / `# `.
_SHELL_PROMPT = re.compile(
    r"^(?:[\w.-]+@[\w.-]+:[^\n]*|\[[\w.-]+@[\w.-]+[^\]\n]*\]|bash-[\d.]+)?[$#] *$"
)
# sudo on an FMC asks a bare `Password:`; stock sudo asks `[sudo] password for admin:`.
_PASSWORD_PROMPT = re.compile(r"^(?:\[sudo\] )?password(?: for [^:\n]+)?: *$", re.IGNORECASE)
_SUDO_REFUSED = ("sorry, try again", "incorrect password attempt")
_SUDO_NOT_ALLOWED = ("is not in the sudoers file", "is not allowed to execute")
_NO_SUCH_FILE = "no such file or directory"


class PromptKind(enum.Enum):
    """Which kind of prompt the terminal is waiting at."""

    CLISH = "clish"  # the FMC's `>` command line
    SHELL = "shell"  # bash (expert mode, or a login shell)
    PASSWORD = "password"  # noqa: S105 (a prompt kind, not a secret): sudo asks


class SudoOutcome(enum.Enum):
    """What sudo did with the password we typed."""

    ACCEPTED = "accepted"
    REFUSED = "refused"  # wrong password: stop, never retry
    NOT_ALLOWED = "not_allowed"  # the user may not use sudo at all


class TerminalDecoder:
    """Turn PTY bytes into clean text: UTF-8 (bad bytes replaced), no escapes, only ``\\n``.

    Stateful because a chunk may end inside a UTF-8 character, an escape sequence or a
    ``\\r\\n`` pair; those tails are held back until the next chunk completes them.
    """

    __slots__ = ("_pending", "_utf8")

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""

    def feed(self, data: bytes) -> str:
        """Decode one chunk; returns the clean text that is complete so far."""
        text = self._pending + self._utf8.decode(data)
        self._pending = ""
        esc = text.rfind("\x1b")
        if esc >= 0 and len(text) - esc <= _MAX_PENDING_ESCAPE and not _ANSI.match(text, esc):
            text, self._pending = text[:esc], text[esc:]
        if text.endswith("\r"):
            text, self._pending = text[:-1], "\r" + self._pending
        return clean_text(text)

    def flush(self) -> str:
        """Whatever is still held back, cleaned (at end of stream)."""
        text = self._pending + self._utf8.decode(b"", final=True)
        self._pending = ""
        return clean_text(text)


def strip_ansi(text: str) -> str:
    """Remove ANSI/VT escape sequences and stray control characters."""
    return _CONTROLS.sub("", _ANSI.sub("", text).replace("\x1b", ""))


def normalise_newlines(text: str) -> str:
    """Map ``\\r\\n`` (and ``\\r\\r\\n``) and lone ``\\r`` to ``\\n``."""
    return _CR_NEWLINE.sub("\n", text).replace("\r", "\n")


def clean_text(text: str) -> str:
    """Strip escapes and normalise newlines: what a human would read on the screen."""
    return normalise_newlines(strip_ansi(text))


def last_line(text: str) -> str:
    """The text after the last newline (looks only at the tail of ``text``)."""
    tail = text[-PROMPT_WINDOW:]
    return tail[tail.rfind("\n") + 1 :]


def match_prompt(text: str) -> PromptKind | None:
    """The prompt the text ends with, if its last line is one; ``None`` while output flows."""
    line = last_line(text)
    if not line or len(line) > 200:
        return None
    if _CLISH_PROMPT.match(line):
        return PromptKind.CLISH
    if _PASSWORD_PROMPT.match(line):
        return PromptKind.PASSWORD
    if _SHELL_PROMPT.match(line):
        return PromptKind.SHELL
    return None


def sudo_failure(text: str) -> SudoOutcome | None:
    """REFUSED or NOT_ALLOWED when sudo's words say so (checks only the tail of ``text``)."""
    tail = text[-PROMPT_WINDOW:].lower()
    if any(marker in tail for marker in _SUDO_REFUSED):
        return SudoOutcome.REFUSED
    if any(marker in tail for marker in _SUDO_NOT_ALLOWED):
        return SudoOutcome.NOT_ALLOWED
    return None


def classify_sudo(after_password: str, prompt: PromptKind | None) -> SudoOutcome:
    """What sudo did, from what it printed after we typed the password and where it stopped."""
    failure = sudo_failure(after_password)
    if failure is not None:
        return failure
    if prompt is PromptKind.PASSWORD:  # asked again: the password was wrong
        return SudoOutcome.REFUSED
    return SudoOutcome.ACCEPTED


def _looks_like_echo(line: str, command: str) -> bool:
    shown, typed = line.strip(), command.strip()
    # The echo may be cut (prompt redraw) or carry prompt text before it; never exact.
    if not typed or len(shown) < min(len(typed), 4):
        return False
    return typed in shown or typed.endswith(shown)


def command_output(text: str, command: str | None) -> str:
    """The output in ``text`` (all received after typing ``command``): no echo, no prompt.

    ``command`` is what was typed; ``None`` means nothing visible was echoed (a password),
    so only the bare newline that ended it is dropped.
    """
    body = text[: text.rfind("\n") + 1] if match_prompt(text) else text
    lines = body.split("\n")
    if command is None:
        if lines and not lines[0].strip():
            lines = lines[1:]
    else:
        # Both the PTY and the program may echo, so allow the echo twice.
        for _ in range(2):
            if lines and _looks_like_echo(lines[0], command):
                lines = lines[1:]
    return "\n".join(lines).strip("\n")


def says_no_such_file(output: str) -> bool:
    """True when ``cat`` (or sudo) reported the file does not exist."""
    return _NO_SUCH_FILE in output.lower()


# Printed between files by :func:`join_reads`; no FMC file holds this text.
READ_SEPARATOR = "@@fmccert"


def join_reads(paths: Sequence[str]) -> str:
    """One bash line that prints each file in ``paths``, with READ_SEPARATOR between them.

    Kept short so the echoed line fits the 200-column terminal without wrapping.
    """
    return f"; echo {READ_SEPARATOR}; ".join(f"cat {shlex.quote(path)}" for path in paths)


def split_reads(output: str, paths: Sequence[str]) -> list[str] | None:
    """Each file's text from the output of :func:`join_reads`; None if it does not fit."""
    # Split on the text, not whole lines: a file without a final newline runs into it.
    sections = output.split(READ_SEPARATOR)
    if len(sections) != len(paths):
        return None
    return [section.strip("\n") for section in sections]
