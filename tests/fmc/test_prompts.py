"""The pure terminal logic: cleaning PTY bytes, spotting prompts, cutting command output."""

from __future__ import annotations

import pytest

from bot.fmc.prompts import (
    PromptKind,
    SudoOutcome,
    TerminalDecoder,
    classify_sudo,
    clean_text,
    command_output,
    join_reads,
    match_prompt,
    normalise_newlines,
    says_no_such_file,
    split_reads,
    strip_ansi,
    sudo_failure,
)

BANNER = (
    "Last login: Mon Mar 30 12:00:00 2025 from 10.0.0.5\r\n"
    "\r\n"
    "Copyright 2004-2025, Cisco and/or its affiliates. All rights reserved.\r\n"
    "Cisco Secure Firewall Management Center for VMWare 300 v7.4.2 (build 172)\r\n"
    "\r\n"
)
LECTURE = (
    "\r\nWe trust you have received the usual lecture from the local System\r\n"
    "Administrator. It usually boils down to these three things:\r\n\r\n"
    "    #1) Respect the privacy of others.\r\n"
    "    #2) Think before you type.\r\n"
    "    #3) With great power comes great responsibility.\r\n\r\n"
)


def test_strip_ansi_removes_colours_titles_and_bracketed_paste() -> None:
    """CSI colours, OSC titles, bracketed-paste toggles and charset switches all vanish."""
    raw = (
        "\x1b]0;admin@firepower: ~\x07\x1b[?2004h\x1b[01;32madmin@firepower\x1b[00m:"
        "\x1b[01;34m~\x1b[00m$ \x1b(B\x1b=\x07"
    )
    assert strip_ansi(raw) == "admin@firepower:~$ "


def test_normalise_newlines_maps_crlf_and_lone_cr() -> None:
    """``\\r\\n``, ``\\r\\r\\n`` and a lone ``\\r`` all become one ``\\n``."""
    assert normalise_newlines("a\r\nb\r\r\nc\rd") == "a\nb\nc\nd"


def test_decoder_holds_split_escape_crlf_and_utf8_until_complete() -> None:
    """A chunk boundary inside an escape, a CRLF pair or a UTF-8 character loses nothing."""
    decoder = TerminalDecoder()
    pieces = [b"caf\xc3", b"\xa9\r", b"\n\x1b[01", b";32mfmc\x1b", b"[00m$ "]
    text = "".join(decoder.feed(piece) for piece in pieces) + decoder.flush()
    assert text == "café\nfmc$ "


def test_decoder_replaces_invalid_utf8() -> None:
    """Bytes that are not UTF-8 become replacement characters instead of failing."""
    assert TerminalDecoder().feed(b"ok \xff\xfe\n> ") == "ok \ufffd\ufffd\n> "


def test_decoder_gives_up_on_an_endless_escape() -> None:
    """An unterminated escape longer than any real one is not held back forever."""
    decoder = TerminalDecoder()
    text = decoder.feed(b"\x1b]0;" + b"x" * 5000)
    assert "xxxx" in text


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (BANNER + "> ", PromptKind.CLISH),
        (BANNER + ">", PromptKind.CLISH),
        ("notice\nadmin@firepower:~$ ", PromptKind.SHELL),
        ("admin@fmc-east-lab:/Volume/home/admin$ ", PromptKind.SHELL),
        ("admin@firepower:/opt/cisco/platform$ ", PromptKind.SHELL),
        ("root@firepower:~# ", PromptKind.SHELL),
        ("[admin@fmc ~]$ ", PromptKind.SHELL),
        ("bash-4.4$ ", PromptKind.SHELL),
        ("$ ", PromptKind.SHELL),
        ("# ", PromptKind.SHELL),
        (LECTURE + "Password: ", PromptKind.PASSWORD),
        ("[sudo] password for admin: ", PromptKind.PASSWORD),
    ],
)
def test_match_prompt_recognises_fmc_prompts(text: str, kind: PromptKind) -> None:
    """CLISH, every bash prompt shape on an FMC, and both sudo password prompts are found."""
    assert match_prompt(text) is kind


@pytest.mark.parametrize(
    "text",
    [
        "> \nstill printing",  # a prompt earlier in the buffer is not the end
        BANNER,  # banner finished with a newline, prompt not there yet
        "admin@firepower:~$ cat /etc/sf/ims.conf\n",  # our own echo
        "x = a > b",  # '>' inside a line
        "Total: 5 $",  # a dollar inside a line of output
        "",
        LECTURE,  # the lecture's '#1)' lines are not root prompts
    ],
)
def test_match_prompt_ignores_text_that_is_not_waiting(text: str) -> None:
    """Only the last line counts, and only when it is a whole prompt."""
    assert match_prompt(text) is None


def test_match_prompt_after_clean_text_with_ansi_prompt() -> None:
    """A coloured bash prompt is recognised once cleaned."""
    raw = "\x1b[?2004l\r\x1b[?2004h\x1b[01;32madmin@fmc\x1b[00m:\x1b[01;34m~\x1b[00m$ "
    assert match_prompt(clean_text(raw)) is PromptKind.SHELL


def test_command_output_drops_echo_and_prompt() -> None:
    """Output is the text between the echoed command line and the next prompt."""
    text = "cat /etc/sf/ims.conf\nSWVERSION=7.6.0\nSWBUILD=36\nadmin@firepower:~$ "
    assert command_output(text, "cat /etc/sf/ims.conf") == "SWVERSION=7.6.0\nSWBUILD=36"


def test_command_output_tolerates_double_or_inexact_echo() -> None:
    """A command echoed twice (PTY and program) or with prompt residue is still dropped."""
    text = "cat /etc/sf/model.conf\n$ cat /etc/sf/model.conf\nMODEL=x\n$ "
    assert command_output(text, "cat /etc/sf/model.conf") == "MODEL=x"


def test_command_output_keeps_output_when_nothing_was_echoed() -> None:
    """With no echo, the first line is output, not thrown away."""
    assert command_output("MODEL=x\n$ ", "cat /etc/sf/model.conf") == "MODEL=x"


def test_command_output_after_password_drops_the_bare_newline() -> None:
    """After a password (never echoed) only the newline that ended it is dropped."""
    text = "\n-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\nadmin@fp:~$ "
    assert command_output(text, None).startswith("-----BEGIN CERTIFICATE-----")


@pytest.mark.parametrize(
    ("after", "prompt", "outcome"),
    [
        ("\n-----BEGIN CERTIFICATE-----\n...\nadmin@fp:~$ ", PromptKind.SHELL, "accepted"),
        ("\nSorry, try again.\nPassword: ", PromptKind.PASSWORD, "refused"),
        ("\nSorry, try again.\n", None, "refused"),
        ("\nPassword: ", PromptKind.PASSWORD, "refused"),
        ("\nsudo: 3 incorrect password attempts\nadmin@fp:~$ ", PromptKind.SHELL, "refused"),
        ("\nadmin is not in the sudoers file.\n$ ", PromptKind.SHELL, "not_allowed"),
    ],
)
def test_classify_sudo(after: str, prompt: PromptKind | None, outcome: str) -> None:
    """A second password prompt, 'Sorry' or 'incorrect password attempts' mean refused."""
    assert classify_sudo(after, prompt) is SudoOutcome(outcome)


def test_sudo_failure_ignores_the_lecture() -> None:
    """The lecture is not a refusal."""
    assert sudo_failure(LECTURE + "Password: ") is None


def test_says_no_such_file() -> None:
    """cat's 'No such file or directory' marks a missing file."""
    assert says_no_such_file("cat: /var/sf/beaker3/x.pem: No such file or directory")
    assert not says_no_such_file("-----BEGIN CERTIFICATE-----")


def test_join_and_split_reads_round_trip() -> None:
    """The combined read splits back into each file's text, even without final newlines."""
    paths = ["/etc/sf/ims.conf", "/etc/sf/model.conf"]
    command = join_reads(paths)
    assert command == "cat /etc/sf/ims.conf; echo @@fmccert; cat /etc/sf/model.conf"
    output = "SWVERSION=7.6.0@@fmccert\nMODEL=x\n"
    assert split_reads(output, paths) == ["SWVERSION=7.6.0", "MODEL=x"]


def test_split_reads_rejects_output_it_cannot_split() -> None:
    """A shell that did not run the separators yields None, so files are read one by one."""
    assert split_reads("-bash: syntax error", ["/a", "/b"]) is None


def test_decoder_drops_c1_controls() -> None:
    """C1 controls such as the 8-bit CSI (U+009B) never reach the cleaned text."""
    decoder = TerminalDecoder()
    assert decoder.feed("a\u009b2Kb\u0085c".encode()) == "a2Kbc"
