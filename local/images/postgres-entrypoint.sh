#!/bin/sh
# Entrypoint of grove.local/postgres: the environment contract of the official postgres image
# (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, PGDATA), for a server that runs as uid 999 on a
# read-only root filesystem. Writable: the data volume, /var/run/postgresql (the socket) and /tmp.
#
# First start, with no PG_VERSION in $PGDATA: initdb with POSTGRES_USER as the superuser,
# scram-sha-256 for TCP from anywhere and trust on the local socket, then POSTGRES_DB. Later
# starts, including one from a data directory copied from another instance (a snapshot clone),
# go straight to the server.
set -eu

: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
export PGDATA

# Anything but the server (psql, pg_dump, a shell) runs as given, as in the official image.
case "${1:-postgres}" in
  postgres | -*) ;;
  *) exec "$@" ;;
esac
[ "${1:-}" = postgres ] && shift

if [ "$(id -u)" = 0 ]; then
  # Started as root (no runAsUser): make the writable places the service user's and drop to it.
  mkdir -p "$PGDATA" /var/run/postgresql
  chown 999:999 "$PGDATA" /var/run/postgresql
  exec setpriv --reuid=999 --regid=999 --clear-groups "$0" postgres "$@"
fi

fail() {
  echo "postgres-entrypoint: $*" >&2
  exit 1
}

# Writes a fresh cluster into the directory $1, which must be missing or empty.
initialise() {
  [ -n "${POSTGRES_PASSWORD:-}" ] || fail "POSTGRES_PASSWORD must be set to initialise a database"
  [ -w /var/run/postgresql ] || fail "/var/run/postgresql must be writable (mount an emptyDir there)"
  mkdir -p "$1"
  chmod 700 "$1"
  # The password goes through a pipe, never the command line.
  printf '%s\n' "$POSTGRES_PASSWORD" |
    initdb -D "$1" --username="$POSTGRES_USER" --pwfile=/dev/stdin \
      --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  # initdb's host lines cover loopback only; clients come from other pods.
  printf 'host all all all scram-sha-256\n' >>"$1/pg_hba.conf"
  printf "listen_addresses = '*'\n" >>"$1/postgresql.conf"
  if [ "$POSTGRES_DB" != postgres ]; then
    # A server on the socket alone, so nothing can connect before the database exists.
    pg_ctl -D "$1" -o "-c listen_addresses=''" -w -s start
    createdb --username="$POSTGRES_USER" -- "$POSTGRES_DB"
    pg_ctl -D "$1" -m fast -w -s stop
  fi
}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  # Built beside $PGDATA and renamed into place, so a start that is interrupted halfway leaves no
  # cluster that later starts would take for complete. When $PGDATA is itself a mount point it
  # cannot be renamed over; initdb then works in place (and refuses a non-empty directory).
  parent=$(dirname "$PGDATA")
  staging="$parent/.$(basename "$PGDATA").initdb"
  if [ -w "$parent" ] && { [ ! -e "$PGDATA" ] || rmdir "$PGDATA" 2>/dev/null; }; then
    rm -rf "$staging"
    initialise "$staging"
    mv "$staging" "$PGDATA"
  else
    initialise "$PGDATA"
  fi
  echo "postgres-entrypoint: initialised $PGDATA with database $POSTGRES_DB owned by $POSTGRES_USER" >&2
fi

# The server requires 0700 or 0750; a volume's fsGroup handling can widen it.
chmod 700 "$PGDATA" 2>/dev/null || true

# A copy of a running instance's directory carries that instance's lock file. The server already
# ignores a lock naming its own PID; one naming a process that does not exist here is stale too.
if [ -f "$PGDATA/postmaster.pid" ]; then
  pid=$(head -n 1 "$PGDATA/postmaster.pid")
  if [ "$pid" = "$$" ] || ! kill -0 "$pid" 2>/dev/null; then
    rm -f "$PGDATA/postmaster.pid"
  fi
fi

exec postgres -c listen_addresses='*' "$@"
