#!/usr/bin/env bash
# `make bench`: install what is missing, build scr with the server's default
# flags (-O2), install it, start a throwaway cluster on port 54327, run every
# bench/*.sh against it, and stop the cluster.  Benches print ratios against
# baselines measured in the same run, never bare times (bench/README.md).
# Exits non-zero when a bench fails to run; a missed target is not a failure.
source "$(dirname "$0")/lib.sh"

# Whatever stops the run early still stops the cluster.
trap 'cluster_stop bench >/dev/null 2>&1 || true' EXIT
trap 'exit 130' INT TERM

ensure_packages $SCR_PACKAGES_BUILD
build_and_install

PORT=${SCR_BENCH_PORT:-54327}
cluster_start bench "$PORT"

# Each bench gets the cluster through PGHOST/PGPORT/PGUSER (cluster_start
# exports them) and runs from bench/.
export SCR_ROOT PG_BINDIR PG_CONFIG
failed=()
for b in "$SCR_ROOT"/bench/*.sh; do
	[ -e "$b" ] || continue
	name=$(basename "$b" .sh)
	say "bench $name"
	if ! (cd "$SCR_ROOT/bench" && bash "$b"); then
		echo "bench $name: ERROR (exit status above; the figures it printed, if any, are incomplete)" >&2
		failed+=("$name")
	fi
done

cluster_stop bench
trap - EXIT
if [ ${#failed[@]} -gt 0 ]; then
	say "benches that failed to run: ${failed[*]}"
	exit 1
fi
