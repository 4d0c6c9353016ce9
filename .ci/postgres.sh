# Sourced by .ci/run (and usable by hand): start a throwaway PostgreSQL cluster on 127.0.0.1 and
# export MARTECH_TEST_PG_DSN for the tests marked `postgres`; `pg_stop` stops it and removes its
# files (.ci/run calls it on exit). The port is MARTECH_TEST_PG_PORT, else a free one, so a second
# run (or another project's server) never collides.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
pg_dir=$(mktemp -d /tmp/martech-pg.XXXXXX)
pg_port=${MARTECH_TEST_PG_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
chown postgres "$pg_dir" 2>/dev/null || true
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
pg_stop() {
  as_pg "$pg_bin/pg_ctl -D $pg_dir/data -m fast -w -t 30 stop" >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
}
as_pg "$pg_bin/initdb -D $pg_dir/data -U martech --auth=trust >/dev/null"
as_pg "$pg_bin/pg_ctl -D $pg_dir/data -o '-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_dir' -l $pg_dir/log -w -t 60 start >/dev/null"
export MARTECH_TEST_PG_DSN="postgresql://martech@127.0.0.1:$pg_port/postgres"
echo "PostgreSQL up: $MARTECH_TEST_PG_DSN"
