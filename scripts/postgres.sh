#!/usr/bin/env bash
# Start a local PostgreSQL for the storage tests (Debian 12, run as root). Idempotent:
# installs postgresql if missing, starts the cluster, creates role fmccert (password
# fmccert) and database fmccert_test if missing, then prints the test URL.
# Listens on 127.0.0.1:5432 only (Debian's default listen_addresses is localhost).
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
    echo "postgres.sh: run as root" >&2
    exit 2
fi

# Only the URL goes to stdout (callers capture it); everything else goes to stderr.
if ! command -v pg_lsclusters >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    echo "== installing postgresql (Debian)" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi

# The package creates a "main" cluster; make one if it was removed.
if ! pg_lsclusters -h | awk '$2 == "main" {found = 1} END {exit !found}'; then
    newest="$(ls /usr/lib/postgresql | sort -V | tail -1)"
    pg_createcluster "$newest" main >&2
fi

# The first cluster named "main": its version and port (pg_lsclusters -h: no header).
read -r ver port status < <(pg_lsclusters -h | awk '$2 == "main" {print $1, $3, $4; exit}') || true
if [ -z "${ver:-}" ]; then
    echo "postgres.sh: no 'main' cluster found by pg_lsclusters" >&2
    exit 1
fi
if [ "$status" != "online" ]; then
    pg_ctlcluster "$ver" main start >&2
fi

# Wait until it accepts connections (a fresh start takes a moment).
for _ in $(seq 1 50); do
    if su postgres -c "pg_isready -q -p $port"; then
        break
    fi
    sleep 0.2
done
su postgres -c "pg_isready -q -p $port"

psql_admin() {
    su postgres -c "psql -p $port -qAtX -v ON_ERROR_STOP=1 -c \"$1\""
}

if [ "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname = 'fmccert'")" != 1 ]; then
    psql_admin "CREATE ROLE fmccert LOGIN PASSWORD 'fmccert'"
fi
if [ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname = 'fmccert_test'")" != 1 ]; then
    su postgres -c "createdb -p $port -O fmccert fmccert_test" >&2
fi

echo "postgresql+asyncpg://fmccert:fmccert@127.0.0.1:${port}/fmccert_test"
