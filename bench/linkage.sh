#!/usr/bin/env bash
# Bench: probabilistic patient linkage against the deterministic rule, on a
# record of 1M patients already linked and indexed.
#
#   link     50k noisy person records (90% patients of the record as another
#            source would send them: typos, nicknames, married names,
#            missing NHS numbers, transposed birth dates, moves; 10% people
#            the record does not hold), through scr.match_person: the
#            probabilistic path (deterministic => false) against the
#            deterministic one (NHS number and birth date only,
#            deterministic => true), on the same sample of records each
#            round.  Targets: probabilistic records per second >= 2000 on
#            this 2-core machine; probabilistic/deterministic <= 3x.
#   sessions (info) every one of the 50k records through the probabilistic
#            path once, split over SESSIONS concurrent sessions (default 2,
#            one a core): records per second over the wall time.
#   quality  (info) what each path decided against the truth the bench
#            knows: right and wrong links, reviews, new patients.
#
# The record is written directly, set-based, as the superuser
# (bench/linkage.sql describes the data); scr.ingest_person would take over
# a quarter of an hour for 1M people.  Every figure but the rates is a ratio
# of medians measured in this run: the two paths run interleaved, in a
# rotating order, ROUNDS times after one warm-up, each round on a fresh
# sample of the records, timed in the server with clock_timestamp().
# Prints PASS or MISS per target; exits 0 on a MISS (a bench is not a
# test), non-zero on errors.
#
# Needs a running server with scr installed and preloaded, given by
# PGHOST/PGPORT/PGUSER as a superuser (scripts/bench.sh provides one).
# Knobs: SCR_BENCH_LINKAGE_PATIENTS (1000000), SCR_BENCH_LINKAGE_RECORDS
# (50000), SCR_BENCH_LINKAGE_SAMPLE (5000 records a round; must divide the
# records), SCR_BENCH_LINKAGE_SESSIONS (2), SCR_BENCH_LINKAGE_SEED (0.31),
# SCR_BENCH_ROUNDS (7), SCR_BENCH_LINKAGE_DB (scr_bench_linkage),
# SCR_BENCH_KEEP=1 (keep the database), SCR_BENCH_OUT (where the raw
# per-round timings go).
set -euo pipefail
source "$(dirname "$0")/lib.bash"

PATIENTS=${SCR_BENCH_LINKAGE_PATIENTS:-1000000}
RECORDS=${SCR_BENCH_LINKAGE_RECORDS:-50000}
SAMPLE=${SCR_BENCH_LINKAGE_SAMPLE:-5000}
SESSIONS=${SCR_BENCH_LINKAGE_SESSIONS:-2}
SEED=${SCR_BENCH_LINKAGE_SEED:-0.31}
ROUNDS=${SCR_BENCH_ROUNDS:-7}
DB=${SCR_BENCH_LINKAGE_DB:-scr_bench_linkage}
RATE_TARGET=2000
RATIO_TARGET=3
for v in PATIENTS RECORDS SAMPLE SESSIONS ROUNDS; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "linkage: $v must be a positive integer" >&2; exit 1; }
done
[[ $SEED =~ ^-?(0|1)?(\.[0-9]+)?$ ]] || { echo "linkage: SCR_BENCH_LINKAGE_SEED must be between -1 and 1" >&2; exit 1; }
if ((RECORDS % SAMPLE != 0 || RECORDS / SAMPLE < 2)); then
	echo "linkage: the sample ($SAMPLE) must divide the records ($RECORDS) at least twice" >&2
	exit 1
fi
if ((PATIENTS < 10 * RECORDS)); then
	echo "linkage: need at least ten patients a record" >&2
	exit 1
fi
SLICES=$((RECORDS / SAMPLE))
mkdir -p "$OUT"

# No JIT and no parallel workers (bench/lib.bash).
bsql() {
	psql -d "$DB" -v patients="$PATIENTS" -v records="$RECORDS" -v sample="$SAMPLE" \
		-v slices="$SLICES" -v seed="$SEED" -v rounds="$ROUNDS" -v sessions="$SESSIONS" "$@"
}

bench_fresh_db "$DB"

echo "linkage bench: $RECORDS noisy records against $PATIENTS patients, samples of $SAMPLE," \
	"median of $ROUNDS interleaved rounds, then all $RECORDS in $SESSIONS session(s);" \
	"$(psql -d postgres -c "SHOW server_version") server, shared_buffers" \
	"$(psql -d postgres -c "SHOW shared_buffers"), jit off, no parallel workers"

# --- harness: bench/lib.sql, and this bench's own helpers --------------------
bsql -v lib_sql="$BENCH_DIR/lib.sql" <<'SQL'
CREATE EXTENSION scr;
\i :lib_sql
UPDATE bench.line_style SET label_width = 8;

SELECT to_regprocedure('scr.match_person(jsonb, boolean)') IS NOT NULL AS have_matcher \gset
\if :have_matcher
\else
\warn 'linkage: scr.match_person(jsonb, boolean) is not in the installed scr'
SELECT 1/0;
\endif

-- bench.measure with a fresh sample each round: queries are format()
-- templates whose %s is a slice of bench.noisy.  The warm-up runs on slice 0,
-- round r on slice 1 + (r - 1) mod (slices - 1); every variant of a round
-- links the same records.
CREATE FUNCTION bench.measure_slices(phase text, variants text[], queries text[], rounds int, slices int)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	n int := cardinality(variants);
	s int;
	k int;
BEGIN
	FOR j IN 1 .. n LOOP
		PERFORM bench.time_ms(format(queries[j], 0));
	END LOOP;
	FOR r IN 1 .. rounds LOOP
		s := 1 + (r - 1) % (slices - 1);
		FOR j IN 0 .. n - 1 LOOP
			k := (r + j) % n + 1;
			INSERT INTO bench.timing VALUES (phase, variants[k], r, bench.time_ms(format(queries[k], s)));
		END LOOP;
	END LOOP;
END $$;

-- What each path decided for every record (the quality lines).
CREATE UNLOGGED TABLE bench.result (path text, n int, patient_id bigint, decision text);

-- One session's share of the records through the probabilistic path, its
-- start and end on the server's clock.
CREATE UNLOGGED TABLE bench.session_mark (part int, records bigint, started timestamptz, finished timestamptz);
CREATE FUNCTION bench.link_part(part int, parts int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz := clock_timestamp();
	k bigint;
BEGIN
	INSERT INTO bench.result
	SELECT 'probabilistic', q.n, m.patient_id, m.decision
	FROM bench.noisy q, LATERAL scr.match_person(q.demographics, false) m
	WHERE q.n % parts = part;
	GET DIAGNOSTICS k = ROW_COUNT;
	INSERT INTO bench.session_mark VALUES (part, k, t0, clock_timestamp());
END $$;
SQL

# --- data: the record and the noisy records ------------------------------------
say "building $PATIENTS patients (scr.patient, scr.source_identifier, scr.patient_link_key) and $RECORDS noisy records"
t0=$(date +%s%N)
(cd "$BENCH_DIR" && bsql <<'SQL'
\o /dev/null
\i linkage.sql
\o
SQL
)
t1=$(date +%s%N)
bsql <<'SQL'
\o /dev/null
-- Statistics, hint bits and the visibility map now, not in a timed round;
-- the name frequencies linkage weighs agreement by, as an operator refreshes
-- them after a load.
VACUUM ANALYZE scr.patient, scr.source_identifier, scr.patient_link_key, bench.noisy;
SELECT scr.refresh_linkage_term_frequencies();
SQL
t2=$(date +%s%N)
read -r n_patients n_names record_size < <(bsql -F ' ' -c "
	SELECT (SELECT count(*) FROM scr.patient),
		   (SELECT count(DISTINCT family_name) FROM scr.source_identifier),
		   pg_size_pretty(pg_total_relation_size('scr.patient') + pg_total_relation_size('scr.source_identifier')
						  + pg_total_relation_size('scr.patient_link_key'))")
say "built in $(((t1 - t0) / 1000000000)) s, VACUUM ANALYZE and term frequencies" \
	"$(((t2 - t1) / 1000000000)) s: $n_patients patients, $n_names family names," \
	"$record_size with indexes"

# --- checks: the deterministic path finds exactly the intact pairs -------------
# Each record through the deterministic path (untimed); it must link exactly
# the records of patients whose NHS number and birth date arrived intact, each
# to its patient.  (The probabilistic path is checked after the sessions
# phase: one row a record.)
read -r det_links det_expected det_right < <(bsql -F ' ' <<'SQL'
INSERT INTO bench.result
SELECT 'deterministic', q.n, m.patient_id, m.decision
FROM bench.noisy q, LATERAL scr.match_person(q.demographics, true) m \g /dev/null
SELECT count(*) FILTER (WHERE r.decision = 'link'),
	   count(*) FILTER (WHERE q.true_patient IS NOT NULL
						AND NOT q.noise && ARRAY['no_nhs_number', 'nhs_number_typo', 'birth_date']),
	   count(*) FILTER (WHERE r.decision = 'link' AND r.patient_id = q.true_patient)
FROM bench.noisy q JOIN bench.result r ON r.n = q.n AND r.path = 'deterministic';
SQL
)
if [ "$det_links" != "$det_expected" ] || [ "$det_right" != "$det_links" ]; then
	echo "linkage: the deterministic path linked $det_links records ($det_right to the right patient);" \
		"$det_expected have an intact NHS number and birth date of a patient" >&2
	exit 1
fi
bsql <<'SQL'
\o /dev/null
SELECT bench.require_plan(format('SELECT count(*) FROM bench.noisy q, LATERAL scr.match_person(q.demographics, %s) m WHERE q.slice = 0', d),
						  ARRAY['Nested Loop', 'Function Scan on match_person'], NULL, false)
FROM unnest(ARRAY['true', 'false']) d;
SQL

# --- link: probabilistic against deterministic, same samples ------------------
say "link: samples of $SAMPLE records, 2 paths x $ROUNDS rounds"
bsql <<'SQL'
\o /dev/null
SELECT bench.measure_slices('linkage', ARRAY['probabilistic', 'deterministic'],
	ARRAY['SELECT count(*) FROM bench.noisy q, LATERAL scr.match_person(q.demographics, false) m WHERE q.slice = %s',
		  'SELECT count(*) FROM bench.noisy q, LATERAL scr.match_person(q.demographics, true) m WHERE q.slice = %s'],
	:rounds, :slices);
SQL

# --- sessions: every record, probabilistic, in concurrent sessions ------------
say "sessions: all $RECORDS records through the probabilistic path in $SESSIONS concurrent session(s)"
start=$(bsql -c "SELECT clock_timestamp() + interval '2 seconds'")
pids=()
for ((part = 0; part < SESSIONS; part++)); do
	bsql -v part="$part" -v start="$start" >/dev/null <<'SQL' &
SELECT pg_sleep_until(:'start');
SELECT bench.link_part(:part, :sessions);
SQL
	pids+=($!)
done
for p in "${pids[@]}"; do
	wait "$p" || { kill "${pids[@]}" 2>/dev/null || true; wait; echo "linkage: a session failed" >&2; exit 1; }
done

bsql <<'SQL'
\o /dev/null
SELECT bench.check((SELECT count(*) = :records AND count(DISTINCT n) = :records
					FROM bench.result WHERE path = 'probabilistic'),
				   'the probabilistic path did not return one row a record');
SQL

# --- report ----------------------------------------------------------------------
save_timings linkage_timings.csv
# Decisions by path, held or not, and kind of noise (a record with several
# kinds counts under each; 'none': a clean copy), for whoever tunes the
# matcher.
bsql -c "\\copy (SELECT r.path, q.true_patient IS NOT NULL AS held, coalesce(l.noise, 'none') AS noise,
	count(*) AS records,
	count(*) FILTER (WHERE r.decision = 'link' AND r.patient_id = q.true_patient) AS linked_right,
	count(*) FILTER (WHERE r.decision = 'link' AND r.patient_id IS DISTINCT FROM q.true_patient) AS linked_wrong,
	count(*) FILTER (WHERE r.decision = 'review') AS review,
	count(*) FILTER (WHERE r.decision = 'review' AND r.patient_id = q.true_patient) AS review_right_candidate,
	count(*) FILTER (WHERE r.decision = 'new') AS new
	FROM bench.result r JOIN bench.noisy q USING (n) LEFT JOIN LATERAL unnest(q.noise) AS l(noise) ON true
	GROUP BY 1, 2, 3 ORDER BY 1 DESC, 2 DESC, 3) TO '$OUT/linkage_decisions.csv' CSV HEADER"
echo
bsql -v rate_target="$RATE_TARGET" -v ratio_target="$RATIO_TARGET" <<'SQL'
SELECT bench.line('linkage', 'probabilistic', 'deterministic', 'max', :ratio_target);
WITH det AS (
	SELECT round(:sample * 1000 / bench.median('linkage', 'deterministic')) AS rate
), ses AS (
	SELECT sum(records) AS records, 1000 * extract(epoch FROM max(finished) - min(started)) AS ms,
		   count(*) AS sessions
	FROM bench.session_mark
)
-- The machine's rate: one session a core, as a feed engine with parallel
-- workers runs.  This is the figure the records-per-second target judges.
SELECT format('%-8s %-28s = %6s   %-20s %-4s  (%s)', 'linkage:',
			  format('probabilistic, %s sessions', ses.sessions), round(ses.records * 1000 / ses.ms),
			  format('(target >= %s)', :rate_target),
			  CASE WHEN ses.records * 1000 / ses.ms >= :rate_target THEN 'PASS' ELSE 'MISS' END,
			  format('records/s, one run of all %s records; %sx one session''s rate', ses.records,
					 to_char(ses.records * 1000 / ses.ms
							 / (:sample * 1000 / bench.median('linkage', 'probabilistic')), 'FM990.00')))
FROM ses
UNION ALL
SELECT format('%-8s %-28s = %6s   %-20s %-4s  (%s)', 'linkage:', 'probabilistic records/s',
			  round(:sample * 1000 / bench.median('linkage', 'probabilistic')), '', 'info',
			  'one session, median of the rounds')
UNION ALL
SELECT format('%-8s %-28s = %6s   %-20s %-4s  (%s)', 'linkage:', 'deterministic records/s', det.rate, '', 'info',
			  'the baseline, same samples')
FROM det;
-- Quality: what each path decided, against the truth.
WITH t AS (
	SELECT r.path, q.true_patient IS NOT NULL AS held, count(*) AS n,
		   count(*) FILTER (WHERE r.decision = 'link' AND r.patient_id = q.true_patient) AS right_link,
		   count(*) FILTER (WHERE r.decision = 'link' AND r.patient_id IS DISTINCT FROM q.true_patient) AS wrong_link,
		   count(*) FILTER (WHERE r.decision = 'review') AS review,
		   count(*) FILTER (WHERE r.decision = 'review' AND r.patient_id = q.true_patient) AS review_right,
		   count(*) FILTER (WHERE r.decision = 'new') AS new
	FROM bench.result r JOIN bench.noisy q USING (n)
	GROUP BY 1, 2
)
SELECT format('%-8s %-28s   %s', 'quality:', path || CASE WHEN held THEN ', held' ELSE ', not held' END,
			  CASE WHEN held THEN format('%s records of patients: linked right %s%%, wrong %s%%; review %s%% (the right patient proposed in %s of %s); new %s%%',
										 n, round(100.0 * right_link / n, 1), round(100.0 * wrong_link / n, 2),
										 round(100.0 * review / n, 1), review_right, review, round(100.0 * new / n, 1))
				   ELSE format('%s people the record does not hold: new %s%%, review %s%%, linked (wrongly) %s%%',
							   n, round(100.0 * new / n, 1), round(100.0 * review / n, 1),
							   round(100.0 * wrong_link / n, 2)) END)
FROM t ORDER BY path DESC, held DESC;
SQL
rounds_footer linkage_timings.csv
echo "(decisions by kind of noise: $OUT/linkage_decisions.csv)"
