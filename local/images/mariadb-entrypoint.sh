#!/bin/sh
# Entrypoint of grove.local/mariadb: the environment contract of the official mariadb image
# (MARIADB_ROOT_PASSWORD, MARIADB_DATABASE, MARIADB_USER, MARIADB_PASSWORD), for a server that runs
# as uid 999 on a read-only root filesystem. Writable: /var/lib/mysql (the data volume),
# /run/mysqld (the socket) and /tmp.
#
# First start, with no mysql/ in the data directory: mariadb-install-db, then a server on the
# socket alone sets the root password and creates the database and its user, then stops. Later
# starts, including one from a directory copied from another instance, go straight to the server.
set -eu

DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock
# Present only while the first start runs: a start that finds it was interrupted, and begins again.
MARKER="$DATADIR/.grove-initialising"

case "${1:-mariadbd}" in
  -*) set -- mariadbd "$@" ;;
  mariadbd | mysqld) ;;
  *) exec "$@" ;;
esac

if [ "$(id -u)" = 0 ]; then
  # Started as root (no runAsUser): make the writable places the service user's and drop to it.
  mkdir -p "$DATADIR" /run/mysqld
  chown 999:999 "$DATADIR" /run/mysqld
  exec setpriv --reuid=999 --regid=999 --clear-groups "$0" "$@"
fi

fail() {
  echo "mariadb-entrypoint: $*" >&2
  exit 1
}

# SQL literals: a string with backslashes and quotes escaped, an identifier with backticks doubled.
sql_string() { printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g")"; }
sql_ident() { printf '`%s`' "$(printf '%s' "$1" | sed 's/`/``/g')"; }
# dash's echo would undo the escaping.
say() { printf '%s\n' "$*"; }

initialise() {
  [ -n "${MARIADB_ROOT_PASSWORD:-}" ] || fail "MARIADB_ROOT_PASSWORD must be set to initialise a database"
  if [ -n "${MARIADB_USER:-}" ] && [ -z "${MARIADB_PASSWORD:-}" ]; then fail "MARIADB_PASSWORD must be set with MARIADB_USER"; fi
  [ -w /run/mysqld ] || fail "/run/mysqld must be writable (mount an emptyDir there)"
  if [ -e "$MARKER" ]; then
    echo "mariadb-entrypoint: an earlier first start was interrupted; initialising again" >&2
    find "$DATADIR" -mindepth 1 -maxdepth 1 ! -name lost+found ! -name "$(basename "$MARKER")" -exec rm -rf {} +
  fi
  : >"$MARKER"
  # --cross-bootstrap skips the check that the host name resolves, which a pod's may not yet.
  out=$(mariadb-install-db --datadir="$DATADIR" --auth-root-authentication-method=normal --skip-test-db \
    --cross-bootstrap --skip-name-resolve --default-time-zone=SYSTEM --skip-log-bin 2>&1) ||
    fail "mariadb-install-db failed: $out"

  mariadbd --datadir="$DATADIR" --socket="$SOCKET" --skip-networking --skip-log-bin &
  pid=$!
  i=0
  until mariadb-admin --socket="$SOCKET" --user=root ping >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || fail "the temporary server exited during initialisation"
    i=$((i + 1))
    [ "$i" -lt 120 ] || fail "the temporary server did not start within 60 s"
    sleep 0.5
  done

  root=$(sql_string "$MARIADB_ROOT_PASSWORD")
  {
    # The escaping above assumes backslash escapes are on.
    say "SET @@SESSION.SQL_MODE = REPLACE(@@SESSION.SQL_MODE, 'NO_BACKSLASH_ESCAPES', '');"
    # mariadb-install-db also makes password-less root accounts for loopback and the host name.
    say "DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1';"
    say "EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@''', @@hostname, '''');"
    say "ALTER USER 'root'@'localhost' IDENTIFIED BY $root;"
    # Root from other hosts too, as the official image's default MARIADB_ROOT_HOST=% gives.
    say "CREATE OR REPLACE USER 'root'@'%' IDENTIFIED BY $root;"
    say "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
    if [ -n "${MARIADB_DATABASE:-}" ]; then
      say "CREATE DATABASE IF NOT EXISTS $(sql_ident "$MARIADB_DATABASE");"
    fi
    if [ -n "${MARIADB_USER:-}" ] && [ "$MARIADB_USER" != root ]; then
      say "CREATE USER $(sql_string "$MARIADB_USER")@'%' IDENTIFIED BY $(sql_string "$MARIADB_PASSWORD");"
      if [ -n "${MARIADB_DATABASE:-}" ]; then
        say "GRANT ALL ON $(sql_ident "$MARIADB_DATABASE").* TO $(sql_string "$MARIADB_USER")@'%';"
      fi
    fi
  } | mariadb --socket="$SOCKET" --user=root --batch

  # The password just set is needed to stop the server; it goes by environment, not argument.
  MYSQL_PWD="$MARIADB_ROOT_PASSWORD" mariadb-admin --socket="$SOCKET" --user=root shutdown
  wait "$pid" || fail "the temporary server did not stop cleanly"
  rm -f "$MARKER"
  echo "mariadb-entrypoint: initialised $DATADIR${MARIADB_DATABASE:+ with database $MARIADB_DATABASE}" >&2
}

if [ ! -d "$DATADIR/mysql" ] || [ -e "$MARKER" ]; then
  initialise
fi

exec "$@"
