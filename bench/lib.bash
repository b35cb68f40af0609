# Shell helpers shared by the benches, sourced by each bench/*.sh:
#
#     source "$(dirname "$0")/lib.bash"
#
# Not a bench itself: scripts/bench.sh runs every bench/*.sh, which is why
# this file's name does not end in .sh.  The SQL timing harness is in
# bench/lib.sql.
#
# Sets BENCH_DIR (this directory), OUT (SCR_BENCH_OUT, or bench/out: where
# the raw times go; a bench makes it with mkdir -p when it starts) and
# PGOPTIONS (a bench adds its own settings).  Defines psql, say,
# bench_fresh_db, save_timings and rounds_footer.  Each bench defines bsql
# itself (psql on its database, with its own variables); save_timings calls
# it.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${SCR_BENCH_OUT:-$BENCH_DIR/out}

# No JIT and no parallel workers: both add noise and neither is what is being
# measured.
export PGOPTIONS="-c jit=off -c max_parallel_workers_per_gather=0 -c client_min_messages=warning"

psql() { command psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
say() { printf '   %s\n' "$*"; }

# bench_fresh_db DB [ROLE...]: drop and create the database DB; at exit,
# drop it and the given roles (roles are cluster-wide), unless
# SCR_BENCH_KEEP=1.
bench_fresh_db() {
	BENCH_DB=$1
	shift
	BENCH_ROLES=("$@")
	psql -d postgres -c "DROP DATABASE IF EXISTS $BENCH_DB" -c "CREATE DATABASE $BENCH_DB"
	if [ "${SCR_BENCH_KEEP:-0}" != 1 ]; then
		trap bench_cleanup EXIT
	fi
}
bench_cleanup() {
	local r
	psql -d postgres -c "DROP DATABASE IF EXISTS $BENCH_DB" >/dev/null 2>&1 || true
	for r in ${BENCH_ROLES[@]+"${BENCH_ROLES[@]}"}; do
		psql -d postgres -c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1 || true
	done
}

# save_timings FILE: bench.timing, every row, to $OUT/FILE as CSV.
save_timings() {
	bsql -c "\\copy (SELECT * FROM bench.timing ORDER BY phase, round, variant) TO '$OUT/$1' CSV HEADER"
}

# rounds_footer FILE: the last lines of a bench that reports bench.line
# figures (bench/lib.sql), FILE being what save_timings wrote.
rounds_footer() {
	echo "(ratios are of medians; 'rounds a..b' is the same ratio's range over the rounds;"
	echo " raw per-round timings, for this machine only: $OUT/$1)"
}
