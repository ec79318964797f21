#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL server on 127.0.0.1 (data in a temp dir, stopped
# and removed on exit). The command sees AQ_TEST_POSTGRES_URL.
# usage: scripts/pg-throwaway.sh <command...>
set -euo pipefail
if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PORT=${PGPORT_THROWAWAY:-55439}
DIR=$(mktemp -d /tmp/aq-pg.XXXXXX)
chown postgres:postgres "$DIR"
as_pg() { runuser -u postgres -- "$@"; }
as_pg "$PGBIN/initdb" -D "$DIR/data" -U postgres -A trust -E UTF8 --no-locale >"$DIR/initdb.log"
# tests need no durability (PG_DURABLE=1 keeps PostgreSQL's defaults, for benchmarks)
FAST="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
[ "${PG_DURABLE:-0}" = 1 ] && FAST=""
as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 30 \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR $FAST" start >/dev/null
stop() { as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null || true; rm -rf "$DIR"; }
trap stop EXIT
as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -qc "CREATE DATABASE aq" >/dev/null
export AQ_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PORT/aq"
"$@"
