"""Standard output whose reader may go away: `fmccert scan --json | head -1`.

Python ignores SIGPIPE, so writing to a pipe nobody reads raises BrokenPipeError, and the
interpreter's last flush at exit would print "Exception ignored ... BrokenPipeError". The
CLI stops quietly instead (``EXIT_BROKEN_PIPE``); a remediation, whose work must go on
and whose exit status must still tell how it ended, prints with :func:`say`.
"""

from __future__ import annotations

import os
import select
import signal
import sys

from bot.core.peer_text import sanitize_peer_text

# What a shell reports for a writer killed by SIGPIPE: 128 + 13.
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE


def stdout_closed() -> bool:
    """Whether stdout is a pipe (or socket) whose reader has gone away."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no real file descriptor
        return False


def drop_stdout() -> None:
    """Send the rest of stdout to /dev/null once its reader has gone away.

    Output still buffered is then flushed there, so the interpreter's last flush at exit
    cannot print "Exception ignored ... BrokenPipeError".
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (an in-process test)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def say(text: str = "") -> None:
    """Print one line now, or drop it (and all later output) if stdout's reader has gone.

    For commands whose work must go on, and whose exit status must still tell how it
    ended, when nobody reads their output any more (a remediation half-way through).
    The lines quote FMC output and errors: control characters never reach the terminal.
    """
    try:
        print(sanitize_peer_text(text, keep_newlines=True), flush=True)
    except BrokenPipeError:
        drop_stdout()
