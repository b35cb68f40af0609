#!/usr/bin/env bash
# `make test`: install what is missing, build with -Wall -Wextra -Werror,
# install, start a throwaway cluster, run every pg_regress test, isolation
# spec and test program, stop the cluster, and end with "N passed, N failed".
source "$(dirname "$0")/lib.sh"

# Whatever stops the run early still ends with the tally line.
trap 'cluster_stop test >/dev/null 2>&1 || true; echo "0 passed, 1 failed"' EXIT

ensure_packages $SCR_PACKAGES_BUILD $SCR_PACKAGES_TEST
build_and_install PG_CFLAGS='-Wall -Wextra -Werror'

PORT=${SCR_TEST_PORT:-54329}
cluster_start test "$PORT"

PGXS_DIR=$(dirname "$("$PG_CONFIG" --pgxs)")/../..
OUT="$SCR_ROOT/tmp_scr/out"
rm -rf "$OUT"
mkdir -p "$OUT/regress" "$OUT/isolation" "$OUT/programs"
passed=0
failed=0
failures=()

# Tally pg_regress-style output: one "... ok" or "... FAILED" line per test.
tally() {
	local log=$1 ok bad
	ok=$(grep -cE '\.\.\. ok' "$log" || true)
	bad=$(grep -cE '\.\.\. FAILED|\.\.\. failed' "$log" || true)
	passed=$((passed + ok))
	failed=$((failed + bad))
	while read -r name; do failures+=("$name"); done < <(grep -E '\.\.\. (FAILED|failed)' "$log" | awk '{print $2}')
}

REGRESS=$(make -s -C "$SCR_ROOT" print-regress)
ISOLATION=$(make -s -C "$SCR_ROOT" print-isolation)

cd "$SCR_ROOT"
say "pg_regress: $REGRESS"
"$PGXS_DIR/src/test/regress/pg_regress" --inputdir=. --outputdir="$OUT/regress" \
	--bindir="$PG_BINDIR" --dbname=scr_regression --load-extension=scr \
	$REGRESS 2>&1 | tee "$OUT/regress.log" || true
tally "$OUT/regress.log"
[ -f "$OUT/regress/regression.diffs" ] && say "differences: $OUT/regress/regression.diffs"

say "isolation: $ISOLATION"
"$PGXS_DIR/src/test/isolation/pg_isolation_regress" --inputdir=. --outputdir="$OUT/isolation" \
	--bindir="$PG_BINDIR" --dbname=scr_isolation --load-extension=scr \
	$ISOLATION 2>&1 | tee "$OUT/isolation.log" || true
tally "$OUT/isolation.log"
[ -f "$OUT/isolation/regression.diffs" ] && say "differences: $OUT/isolation/regression.diffs"

# Test programs: every test/<name>/run, given the cluster through PG* variables.
export SCR_ROOT PG_BINDIR PG_CONFIG
for prog in "$SCR_ROOT"/test/*/run; do
	name=$(basename "$(dirname "$prog")")
	log="$OUT/programs/$name.log"
	if (cd "$(dirname "$prog")" && ./run) >"$log" 2>&1; then
		printf 'test %-30s ... ok\n' "$name"
		passed=$((passed + 1))
	else
		printf 'test %-30s ... FAILED (log: %s)\n' "$name" "$log"
		tail -n 20 "$log" | sed 's/^/    /'
		failed=$((failed + 1))
		failures+=("$name")
	fi
done

cluster_stop test
trap - EXIT
[ ${#failures[@]} -gt 0 ] && say "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
