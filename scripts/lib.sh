# Shared by the demo, test and bench scripts: install what is missing, and
# run a throwaway PostgreSQL 15 cluster under the checkout.  Never touches a
# system cluster or port 5432.  Source it; do not run it.

set -euo pipefail

SCR_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_BINDIR=/usr/lib/postgresql/15/bin
export PATH="$PG_BINDIR:$PATH"
PG_CONFIG="$PG_BINDIR/pg_config"
[ -x "$PG_CONFIG" ] || PG_CONFIG=pg_config

# Debian packages each command needs.
SCR_PACKAGES_BUILD="postgresql-15 postgresql-server-dev-15 postgresql-client-15 make gcc libc6-dev"
SCR_PACKAGES_TEST="clang libclang-rt-dev"

say() { printf '== %s\n' "$*"; }

# Install the named Debian packages that are not installed yet.
ensure_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing Debian packages: ${missing[*]}; install them as root (apt-get install ${missing[*]})" >&2
		exit 1
	fi
	say "installing ${missing[*]}"
	# Keep the packages from starting a system cluster where policy allows.
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	PG_CONFIG="$PG_BINDIR/pg_config"
}

# Build and install the extension.  Extra make arguments pass through.
build_and_install() {
	say "building scr"
	make -C "$SCR_ROOT" -s clean >/dev/null
	make -C "$SCR_ROOT" -s PG_CONFIG="$PG_CONFIG" "$@"
	say "installing scr into $("$PG_CONFIG" --pkglibdir)"
	make -C "$SCR_ROOT" -s PG_CONFIG="$PG_CONFIG" install >/dev/null
}

# Run a command as the cluster's owner: postgres refuses to run as root.
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# cluster_start NAME PORT: a fresh cluster in $SCR_ROOT/tmp_scr/NAME, or in
# a directory under /tmp when the postgres user cannot reach the checkout.
cluster_start() {
	local name=$1 port=$2 base="$SCR_ROOT/tmp_scr"
	mkdir -p "$base"
	if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$base"; then
		base=$(mktemp -d /tmp/scr-cluster.XXXXXX)
		chmod 755 "$base"
		say "postgres cannot reach $SCR_ROOT; cluster in $base"
	fi
	SCR_DATA="$base/$name"
	SCR_PORT=$port
	cluster_stop_dir "$SCR_DATA" 2>/dev/null || true
	rm -rf "$SCR_DATA"
	mkdir -p "$SCR_DATA"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$SCR_DATA"
	as_owner initdb -D "$SCR_DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
	cat >>"$SCR_DATA/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
shared_preload_libraries = 'scr'
fsync = off
max_connections = 50
max_prepared_transactions = 10
log_min_messages = warning
CONF
	as_owner pg_ctl -D "$SCR_DATA" -l "$SCR_DATA/server.log" -w -t 60 start >/dev/null
	export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres
	echo "$SCR_DATA" >"$SCR_ROOT/tmp_scr/$name.datadir"
	say "cluster $name running on port $port (data: $SCR_DATA)"
}

cluster_stop_dir() {
	as_owner pg_ctl -D "$1" -m fast -w stop >/dev/null
}

# cluster_stop NAME: stop the cluster cluster_start made.
cluster_stop() {
	local f="$SCR_ROOT/tmp_scr/$1.datadir"
	[ -f "$f" ] || return 0
	cluster_stop_dir "$(cat "$f")" || true
	say "cluster $1 stopped"
}

# (Clusters live in tmp_scr/, not tmp_check/: PGXS's "make clean" deletes
# tmp_check/, and with it any cluster running there.)
