#!/usr/bin/env bash
# Set up everything the checks need, then run them all: ruff, ruff format, mypy, pytest.
# Works on a fresh Debian machine: creates .venv, installs the package with its dev
# extras and, when run as root, Debian's openssh-server (the tests prove the SSH client
# against OpenSSH's own sshd), chromium (the demo console is tested in a real browser)
# and PostgreSQL (the storage tests run against SQLite and PostgreSQL). Without root those tests skip and say why; with CI set they fail instead.
# Extra arguments go to pytest, e.g. `bash scripts/check.sh -k probe`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
    && { [ ! -x /usr/sbin/sshd ] || [ ! -x /usr/bin/chromium ] || ! command -v promtool >/dev/null \
        || ! command -v docker-compose >/dev/null; }; then
    # sshd: the SSH client is proven against OpenSSH; chromium: the console's browser test;
    # prometheus: its promtool proves the shipped alert rules fire; docker-compose checks
    # deploy/compose.yaml offline (the systemd unit is checked by the image's systemd-analyze).
    echo "== installing openssh-server, chromium, prometheus and docker-compose (Debian)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        openssh-server chromium prometheus docker-compose >/dev/null
fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ -z "${FMCCERT_TEST_PG_URL:-}" ]; then
    echo "== starting PostgreSQL for the storage tests"
    FMCCERT_TEST_PG_URL="$(bash scripts/postgres.sh)"
    export FMCCERT_TEST_PG_URL
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "== creating .venv"
    "$PYTHON" -m venv .venv
fi
echo "== installing fmccert[dev]"
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 | grep -v '^WARNING: Location' || true
.venv/bin/python -c "import bot, asyncssh, pytest" # fail here, loudly, if the install did

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
.venv/bin/pytest "$@"
