#!/bin/sh
# The part of the official mariadb image's healthcheck.sh that Grove's service catalog uses:
#   --connect              the server accepts a login over TCP
#   --innodb_initialized   and InnoDB is running
# It logs in as $MARIADB_USER (else root), whose credentials the container's environment holds;
# the password goes by environment, never on the command line.
set -eu

user=${MARIADB_USER:-root}
if [ "$user" = root ]; then pass=${MARIADB_ROOT_PASSWORD:-}; else pass=${MARIADB_PASSWORD:-}; fi
query() { MYSQL_PWD="$pass" mariadb --protocol=tcp --host=127.0.0.1 --user="$user" --batch --skip-column-names -e "$1"; }

[ $# -gt 0 ] || set -- --connect
for check; do
  case $check in
    --connect) [ "$(query 'SELECT 1')" = 1 ] ;;
    --innodb_initialized)
      [ "$(query "SELECT 1 FROM information_schema.ENGINES WHERE engine = 'InnoDB' AND support IN ('YES', 'DEFAULT', 'ENABLED')")" = 1 ] ;;
    *) echo "healthcheck.sh: unsupported check $check" >&2; exit 2 ;;
  esac
done
