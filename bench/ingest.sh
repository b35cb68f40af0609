#!/usr/bin/env bash
# Bench: the feed path (scr.ingest_batch) against a plain INSERT ... SELECT.
#
#   entries  ~200k entry messages of a synthetic area through scr.ingest_batch
#            in batches of 1000, one statement and transaction a batch, as
#            each source's bound feed login; against one plain
#            INSERT ... SELECT of the same rows (the column values the feed
#            stores, extracted beforehand) into an unprotected copy of
#            scr.entry: same columns, indexes and identity; no row-level
#            security, no foreign keys, no triggers.
#            Target: feed/plain <= 4x (the feed path at least 25% of the plain
#            insert's rate).
#   people   (info) the area's person messages through scr.ingest_batch, which
#            must load first anyway, against plain INSERT ... SELECTs of the
#            rows that load left in scr.patient, scr.source_identifier,
#            scr.patient_link_key and scr.patient_nhs_number into unprotected
#            copies of those tables.
#
# One run of each side (SCR_BENCH_INGEST_ROUNDS for more).  A side's time is
# the server's clock_timestamp() at a statement just before its first
# statement and at one just after its last, so every commit is in it and no
# transfer of data is: the messages are already in the database, and the
# feed's statements name a stored batch.  Before each timed side: VACUUM
# ANALYZE, its input read once, CHECKPOINT; each side writes into empty
# tables.  Prints ratios only, with PASS or MISS; raw times go to
# $SCR_BENCH_OUT.  Exits 0 on a MISS (a bench is not a test), non-zero on
# errors.
#
# Needs a running server with scr installed and preloaded, given by
# PGHOST/PGPORT/PGUSER as a superuser (scripts/bench.sh provides one).
# Knobs: SCR_BENCH_INGEST_PEOPLE (10700, about 200k entries; when set, the
# 200k +/- 5% check becomes a warning), SCR_BENCH_INGEST_SEED (0.42),
# SCR_BENCH_INGEST_BATCH (1000), SCR_BENCH_INGEST_ROUNDS (1),
# SCR_BENCH_INGEST_DB (scr_bench_ingest), SCR_BENCH_INGEST_SETUP (a psql file
# run after CREATE EXTENSION and the synthetic area, before anything is
# loaded or timed: policies, audit), SCR_BENCH_KEEP=1 (keep the database and
# the feed roles), SCR_BENCH_OUT (where the raw times go).
set -euo pipefail
source "$(dirname "$0")/lib.bash"

ROOT=$(cd "$BENCH_DIR/.." && pwd)
PEOPLE=${SCR_BENCH_INGEST_PEOPLE:-10700}
SEED=${SCR_BENCH_INGEST_SEED:-0.42}
BATCH=${SCR_BENCH_INGEST_BATCH:-1000}
ROUNDS=${SCR_BENCH_INGEST_ROUNDS:-1}
DB=${SCR_BENCH_INGEST_DB:-scr_bench_ingest}
SETUP=${SCR_BENCH_INGEST_SETUP:-}
TARGET=4
for v in PEOPLE BATCH ROUNDS; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "ingest: SCR_BENCH_INGEST_$v must be a positive integer" >&2; exit 1; }
done
if [ -n "$SETUP" ]; then
	[ -r "$SETUP" ] || { echo "ingest: SCR_BENCH_INGEST_SETUP: cannot read $SETUP" >&2; exit 1; }
	SETUP=$(cd "$(dirname "$SETUP")" && pwd)/$(basename "$SETUP")
fi
mkdir -p "$OUT"

# No JIT and no parallel workers (bench/lib.bash).  Test-range NHS numbers
# are allowed: the synthetic area uses them.
PGOPTIONS+=" -c scr.allow_test_nhs_numbers=on"
bsql() { psql -d "$DB" -v batch="$BATCH" "$@"; }

# The feed logins, one per source of the synthetic area.  Roles are
# cluster-wide: they are dropped with the database at the end.
SOURCES="gp_canal gp_hillside gp_riverside acute_pas community_ehr council_care mh_ehr"
FEED_ROLES=()
for s in $SOURCES; do
	FEED_ROLES+=("scr_bench_feed_$s")
done
bench_fresh_db "$DB" "${FEED_ROLES[@]}"

echo "ingest bench: synthetic area of $PEOPLE people (seed $SEED), batches of $BATCH," \
	"$([ "$ROUNDS" = 1 ] && echo "one run" || echo "$ROUNDS rounds");" \
	"$(psql -d postgres -c "SHOW server_version") server, jit off, no parallel workers" \
	"${SETUP:+; setup $(basename "$SETUP")}"

# --- the synthetic area ------------------------------------------------------
say "generating the synthetic area"
(cd "$ROOT" && bsql -v people="$PEOPLE" -v seed="$SEED" >/dev/null <<'SQL'
CREATE EXTENSION scr;
\i test/synthetic/generate.sql
SQL
)
if [ -n "$SETUP" ]; then
	say "running $SETUP"
	(cd "$ROOT" && bsql -f "$SETUP" >/dev/null)
fi

read -r people_msgs entry_msgs < <(bsql -F ' ' -c "
	SELECT count(*) FILTER (WHERE message->>'type' = 'person'),
	       count(*) FILTER (WHERE message->>'type' = 'entry')
	FROM synthetic.message")
if [ "$entry_msgs" -lt 190000 ] || [ "$entry_msgs" -gt 210000 ]; then
	suggest=$(( PEOPLE * 200000 / (entry_msgs > 0 ? entry_msgs : 1) ))
	if [ -z "${SCR_BENCH_INGEST_PEOPLE:-}" ]; then
		echo "ingest: the synthetic area has $entry_msgs entries, not 200k +/- 5%;" \
			"set the default people count in bench/ingest.sh to about $suggest" >&2
		exit 1
	fi
	say "warning: $entry_msgs entries, not the issue's 200k (about $suggest people would give 200k)"
fi

# --- harness -----------------------------------------------------------------
bsql <<'SQL'
CREATE SCHEMA bench;
-- One row per timed side: the server's clock just before its first statement
-- and just after its last.
CREATE TABLE bench.mark (phase text, round int, variant text, rows bigint,
						 started timestamptz, finished timestamptz);
CREATE VIEW bench.timing AS
SELECT phase, round, variant, rows, 1000 * extract(epoch FROM finished - started)::float8 AS ms
FROM bench.mark WHERE finished IS NOT NULL;
-- Each feed batch: its outcome and its time inside the server.
CREATE TABLE bench.batch_timing (phase text, round int, source_code text, chunk int, messages int,
								 loaded bigint, unchanged bigint, rejected bigint, ms float8);

CREATE FUNCTION bench.start(p_phase text, p_round int, p_variant text, p_rows bigint) RETURNS void
LANGUAGE sql AS $$
	INSERT INTO bench.mark VALUES (p_phase, p_round, p_variant, p_rows, clock_timestamp(), NULL)
$$;
CREATE FUNCTION bench.finish(p_phase text, p_round int, p_variant text) RETURNS void
LANGUAGE sql AS $$
	UPDATE bench.mark SET finished = clock_timestamp()
	WHERE phase = p_phase AND round = p_round AND variant = p_variant
$$;

-- Stop the bench when a check fails.
CREATE FUNCTION bench.check(ok boolean, what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF ok IS NOT TRUE THEN
		RAISE EXCEPTION 'ingest bench: %', what;
	END IF;
END $$;

-- Read a table once, heap and TOAST (a whole row detoasts), so that a timed
-- side does not pay for the first read of its input.
CREATE FUNCTION bench.touch(t regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('SELECT sum(pg_column_size(x.*)) FROM %s x', t);
END $$;

-- Feed logins bound to their sources, as test/synthetic/load.sql makes them.
DO $$
DECLARE
	s record;
	r text;
BEGIN
	FOR s IN SELECT DISTINCT source_code FROM synthetic.message LOOP
		r := 'scr_bench_feed_' || s.source_code;
		IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
			EXECUTE format('CREATE ROLE %I LOGIN IN ROLE scr_feed', r);
		END IF;
		INSERT INTO scr.feed_binding VALUES (r, s.source_code) ON CONFLICT DO NOTHING;
	END LOOP;
END $$;

-- The batches a feed would send: jsonb arrays of up to :batch messages, people
-- and entries apart, in load.sql's order (GP sources first, each source's
-- messages in sequence).  Stored uncompressed, so that reading one costs no
-- decompression.
CREATE TABLE bench.batch (
	kind text NOT NULL,			-- 'person' or 'entry'
	source_order int NOT NULL,
	source_code text NOT NULL,
	chunk int NOT NULL,
	messages_n int NOT NULL,
	messages jsonb NOT NULL,
	PRIMARY KEY (kind, source_order, chunk)
);
ALTER TABLE bench.batch ALTER COLUMN messages SET STORAGE EXTERNAL;
INSERT INTO bench.batch
SELECT kind, source_order, source_code, (n - 1) / :batch, count(*), jsonb_agg(message ORDER BY n)
FROM (SELECT m.message->>'type' AS kind, m.source_code, m.message,
			 dense_rank() OVER (ORDER BY m.source_code NOT LIKE 'gp%', m.source_code) AS source_order,
			 row_number() OVER (PARTITION BY m.source_code, m.message->>'type' ORDER BY m.seq) AS n
	  FROM synthetic.message m) x
GROUP BY 1, 2, 3, 4;

-- One batch through the feed, as the feed login the session has SET ROLE to.
-- The statement names the stored batch, so no message crosses the wire.
CREATE FUNCTION bench.send(p_phase text, p_round int, p_kind text, p_source_order int, p_chunk int)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz := clock_timestamp();
	b record;
BEGIN
	SELECT x.source_code, x.messages_n, r.loaded, r.unchanged, r.rejected INTO b
	FROM bench.batch x CROSS JOIN LATERAL scr.ingest_batch(x.source_code, x.messages) r
	WHERE x.kind = p_kind AND x.source_order = p_source_order AND x.chunk = p_chunk;
	INSERT INTO bench.batch_timing
	VALUES (p_phase, p_round, b.source_code, p_chunk, b.messages_n, b.loaded, b.unchanged, b.rejected,
			1000 * extract(epoch FROM clock_timestamp() - t0));
END $$;
GRANT USAGE ON SCHEMA bench TO scr_feed;
GRANT SELECT ON bench.batch TO scr_feed;
GRANT INSERT ON bench.batch_timing TO scr_feed;

-- Every message must load, once: otherwise the two sides would not write
-- the same rows.
CREATE FUNCTION bench.check_feed(p_phase text, p_round int, p_kind text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	want bigint := (SELECT sum(messages_n) FROM bench.batch WHERE kind = p_kind);
	t record;
BEGIN
	SELECT count(*) AS batches, sum(messages) AS messages, sum(loaded) AS loaded,
		   sum(unchanged) AS unchanged, sum(rejected) AS rejected INTO t
	FROM bench.batch_timing WHERE phase = p_phase AND round = p_round;
	IF t.batches <> (SELECT count(*) FROM bench.batch WHERE kind = p_kind)
	   OR t.messages <> want OR t.loaded <> want OR t.unchanged <> 0 OR t.rejected <> 0 THEN
		RAISE EXCEPTION 'ingest bench: % feed, round %: % messages, % loaded, % unchanged, % rejected',
			p_phase, p_round, t.messages, t.loaded, t.unchanged, t.rejected
			USING HINT = 'See scr.feed_error: every message of the synthetic area should load.';
	END IF;
END $$;

-- No autovacuum on the tables the timed sides write.  The feed commits every
-- batch, so autovacuum would work on its tables while it runs, whereas the
-- plain insert commits once, at its end; and when autovacuum's visit falls
-- (once a minute) would decide how long the people take: until the first
-- ANALYZE, their loading plans are those of empty tables.  Without it, every
-- run loads the people under the statistics of an empty record.
DO $$
DECLARE
	t regclass;
BEGIN
	FOREACH t IN ARRAY ARRAY['scr.patient', 'scr.patient_nhs_number', 'scr.patient_link_key',
							 'scr.source_identifier', 'scr.patient_merge', 'scr.entry',
							 'scr.entry_history', 'scr.feed_error']::regclass[] LOOP
		EXECUTE format('ALTER TABLE %s SET (autovacuum_enabled = off, toast.autovacuum_enabled = off)', t);
	END LOOP;
END $$;
CREATE SCHEMA plain;
SQL

# feed KIND PHASE ROUND: every batch of one kind through scr.ingest_batch,
# each as its own statement (and transaction) as the source's feed login.
feed() {
	local kind=$1 phase=$2 round=$3
	bsql -v kind="$kind" -v phase="$phase" -v round="$round" <<'SQL'
\o /dev/null
VACUUM ANALYZE;
SELECT bench.touch('bench.batch');
CHECKPOINT;
SELECT s FROM (
	SELECT 0 AS step, 0 AS source_order, 0 AS chunk, 0 AS o,
		   format('SELECT bench.start(%L, %s, ''feed'', %s)', :'phase', :round,
				  (SELECT sum(messages_n) FROM bench.batch WHERE kind = :'kind')) AS s
	UNION ALL
	SELECT 1, b.source_order, b.chunk, v.o, v.s
	FROM bench.batch b,
		 LATERAL (VALUES (0, format('SET ROLE %I', 'scr_bench_feed_' || b.source_code)),
						 (1, format('SELECT bench.send(%L, %s, %L, %s, %s)', :'phase', :round, :'kind',
									b.source_order, b.chunk))) AS v(o, s)
	WHERE b.kind = :'kind' AND (v.o = 1 OR b.chunk = 0)
	UNION ALL
	SELECT 2, 0, 0, 0, 'RESET ROLE'
	UNION ALL
	SELECT 3, 0, 0, 0, format('SELECT bench.finish(%L, %s, ''feed'')', :'phase', :round)
) q ORDER BY step, source_order, chunk, o \gexec
SELECT bench.check_feed(:'phase', :round, :'kind');
SQL
}

# --- people: through the feed (info) ----------------------------------------
say "people: $people_msgs person messages through scr.ingest_batch"
feed person people 1

# --- people: plain inserts of the rows the feed stored (info) ---------------
# Unprotected copies: same columns, defaults, identities and indexes; no RLS,
# no foreign keys, no triggers, no CHECK constraints.  Patient ids are kept
# (OVERRIDING SYSTEM VALUE), so that the copies agree with each other.
say "people: plain INSERT ... SELECTs of the rows they became"
bsql <<'SQL'
\o /dev/null
CREATE UNLOGGED TABLE bench.patient_rows AS SELECT * FROM scr.patient ORDER BY patient_id;
CREATE UNLOGGED TABLE bench.source_identifier_rows AS
	SELECT * FROM scr.source_identifier ORDER BY source_identifier_id;
CREATE UNLOGGED TABLE bench.patient_link_key_rows AS
	SELECT * FROM scr.patient_link_key ORDER BY created_at, patient_id;
CREATE UNLOGGED TABLE bench.patient_nhs_number_rows AS
	SELECT * FROM scr.patient_nhs_number ORDER BY nhs_number_id;
CREATE TABLE plain.patient (LIKE scr.patient INCLUDING DEFAULTS INCLUDING INDEXES INCLUDING IDENTITY)
	WITH (autovacuum_enabled = off);
CREATE TABLE plain.source_identifier
	(LIKE scr.source_identifier INCLUDING DEFAULTS INCLUDING INDEXES INCLUDING IDENTITY)
	WITH (autovacuum_enabled = off);
CREATE TABLE plain.patient_link_key
	(LIKE scr.patient_link_key INCLUDING DEFAULTS INCLUDING INDEXES INCLUDING IDENTITY)
	WITH (autovacuum_enabled = off);
CREATE TABLE plain.patient_nhs_number
	(LIKE scr.patient_nhs_number INCLUDING DEFAULTS INCLUDING INDEXES INCLUDING IDENTITY)
	WITH (autovacuum_enabled = off);
VACUUM ANALYZE;
SELECT bench.touch(t) FROM unnest(ARRAY['bench.patient_rows', 'bench.source_identifier_rows',
	'bench.patient_link_key_rows', 'bench.patient_nhs_number_rows']::regclass[]) t;
CHECKPOINT;
SELECT bench.start('people', 1, 'plain', (SELECT count(*) FROM bench.source_identifier_rows));
INSERT INTO plain.patient OVERRIDING SYSTEM VALUE SELECT * FROM bench.patient_rows;
INSERT INTO plain.source_identifier
	(patient_id, source_code, local_id, link_method, linked_at, demographics, nhs_number,
	 nhs_number_received, nhs_number_problem, nhs_number_status, given_name, family_name,
	 birth_date, sex, postcode, address, death_date, gp_practice, received_at)
SELECT patient_id, source_code, local_id, link_method, linked_at, demographics, nhs_number,
	   nhs_number_received, nhs_number_problem, nhs_number_status, given_name, family_name,
	   birth_date, sex, postcode, address, death_date, gp_practice, received_at
FROM bench.source_identifier_rows;
INSERT INTO plain.patient_link_key SELECT * FROM bench.patient_link_key_rows;
INSERT INTO plain.patient_nhs_number (patient_id, nhs_number, status, source_code, first_seen, last_seen)
SELECT patient_id, nhs_number, status, source_code, first_seen, last_seen
FROM bench.patient_nhs_number_rows;
SELECT bench.finish('people', 1, 'plain');
DROP TABLE plain.patient, plain.source_identifier, plain.patient_link_key, plain.patient_nhs_number;
SQL

# --- entries: the rows the feed will store, extracted beforehand ------------
# The values scr.ingest_batch stores for these messages: text keys trimmed
# (blank is NULL), status and category in lower case, sensitivity in upper
# case (N when absent), the source's organisation, the patient its
# identifier is linked to.  Checked against what the feed stored after every
# feed run.
say "entries: extracting the rows for the plain insert"
bsql <<'SQL'
\o /dev/null
CREATE UNLOGGED TABLE bench.entry_rows AS
SELECT si.patient_id,
	   nullif(btrim(e->>'kind'), '') AS kind,
	   nullif(btrim(e->>'code_system'), '') AS code_system,
	   nullif(btrim(e->>'code'), '') AS code,
	   nullif(btrim(e->>'display'), '') AS display,
	   lower(nullif(btrim(e->>'status'), '')) AS status,
	   nullif(btrim(e->>'effective_start'), '')::timestamptz AS effective_start,
	   nullif(btrim(e->>'effective_end'), '')::timestamptz AS effective_end,
	   nullif(btrim(e->>'author'), '') AS author,
	   b.source_code,
	   coalesce(upper(nullif(btrim(e->>'organisation'), '')), ss.ods_code) AS ods_code,
	   nullif(btrim(e->>'source_ref'), '') AS source_ref,
	   nullif(btrim(e->>'source_timestamp'), '')::timestamptz AS source_timestamp,
	   coalesce(upper(nullif(btrim(e->>'sensitivity'), '')), 'N')::"char" AS sensitivity,
	   lower(nullif(btrim(e->>'sensitivity_category'), '')) AS sensitivity_category,
	   coalesce(e->'payload', jsonb_build_object('resourceType', k.fhir_resource_type)) AS payload
FROM bench.batch b
CROSS JOIN LATERAL jsonb_array_elements(b.messages) WITH ORDINALITY AS m(msg, n)
CROSS JOIN LATERAL (SELECT m.msg->'entry' AS e) x
JOIN scr.source_system ss ON ss.source_code = b.source_code
JOIN scr.source_identifier si ON si.source_code = b.source_code AND si.local_id = btrim(m.msg->>'local_id')
JOIN scr.entry_kind k ON k.kind = btrim(e->>'kind')
WHERE b.kind = 'entry'
ORDER BY b.source_order, b.chunk, m.n;	-- the feed's order; the plain insert reads it as stored
SELECT bench.check((SELECT count(*) FROM bench.entry_rows)
				   = (SELECT sum(messages_n) FROM bench.batch WHERE kind = 'entry'),
				   'some entry messages have no extracted row');
SQL

# --- entries: the timed comparison --------------------------------------------
# Each side writes into empty tables: scr.entry emptied by TRUNCATE before
# every feed run but the first, plain.entry made anew before every plain run.
# With more than one round the sides take turns to go first.
feed_entries() {
	say "entries, round $1: $entry_msgs entry messages through scr.ingest_batch"
	bsql -v round="$1" <<'SQL'
\o /dev/null
SELECT 'TRUNCATE scr.entry, scr.entry_history, scr.feed_error' WHERE :round > 1 \gexec
SELECT bench.check((SELECT count(*) FROM scr.entry) + (SELECT count(*) FROM scr.entry_history)
				   + (SELECT count(*) FROM scr.feed_error) = 0,
				   'scr.entry, scr.entry_history or scr.feed_error is not empty before the feed runs');
SQL
	feed entry entries "$1"
	bsql <<'SQL'
\o /dev/null
-- The feed stored exactly the extracted rows: both sides write the same data.
SELECT bench.check(count(*) = 0, count(*) || ' entries differ between scr.entry and the extracted rows')
FROM bench.entry_rows r FULL JOIN scr.entry e USING (source_code, source_ref)
WHERE r.source_ref IS NULL OR e.source_ref IS NULL
   OR (r.patient_id, r.kind, r.code_system, r.code, r.display, r.status, r.effective_start,
	   r.effective_end, r.author, r.ods_code, r.source_timestamp, r.sensitivity,
	   r.sensitivity_category, r.payload, 1)
	  IS DISTINCT FROM
	  (e.patient_id, e.kind, e.code_system, e.code, e.display, e.status, e.effective_start,
	   e.effective_end, e.author, e.ods_code, e.source_timestamp, e.sensitivity,
	   e.sensitivity_category, e.payload, e.version);
SQL
}

# The unprotected copy: same columns, defaults, identity and indexes; no RLS,
# no foreign keys, no triggers, no CHECK constraints.  Logged, as scr.entry is.
plain_entries() {
	say "entries, round $1: plain INSERT ... SELECT of the same $entry_msgs rows"
	bsql -v round="$1" <<'SQL'
\o /dev/null
DROP TABLE IF EXISTS plain.entry;
CREATE TABLE plain.entry (LIKE scr.entry INCLUDING DEFAULTS INCLUDING INDEXES INCLUDING IDENTITY)
	WITH (autovacuum_enabled = off, toast.autovacuum_enabled = off);
VACUUM ANALYZE;
SELECT bench.touch('bench.entry_rows');
CHECKPOINT;
SELECT bench.start('entries', :round, 'plain', (SELECT count(*) FROM bench.entry_rows));
INSERT INTO plain.entry
	(patient_id, kind, code_system, code, display, status, effective_start, effective_end,
	 author, source_code, ods_code, source_ref, source_timestamp, sensitivity,
	 sensitivity_category, payload)
SELECT patient_id, kind, code_system, code, display, status, effective_start, effective_end,
	   author, source_code, ods_code, source_ref, source_timestamp, sensitivity,
	   sensitivity_category, payload
FROM bench.entry_rows;
SELECT bench.finish('entries', :round, 'plain');
SELECT bench.check((SELECT count(*) FROM plain.entry) = (SELECT count(*) FROM bench.entry_rows),
				   'the plain copy does not hold every extracted row');
SQL
}

for ((r = 1; r <= ROUNDS; r++)); do
	if ((r % 2 == 1)); then
		feed_entries "$r"
		plain_entries "$r"
	else
		plain_entries "$r"
		feed_entries "$r"
	fi
done

# --- report ----------------------------------------------------------------------
save_timings ingest_timings.csv
bsql -c "\\copy (SELECT * FROM bench.batch_timing ORDER BY phase, round, source_code, chunk) TO '$OUT/ingest_batch_timings.csv' CSV HEADER"
echo
bsql -v target="$TARGET" <<'SQL'
-- feed/plain for a phase: the median feed time over the median plain time,
-- rounded as printed (so a PASS never shows a figure over its target), and
-- the range of the same ratio taken round by round.
CREATE FUNCTION pg_temp.ratio(p text, OUT ratio numeric, OUT lo float8, OUT hi float8, OUT rounds int)
LANGUAGE plpgsql AS $$
DECLARE
	feed float8 := (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM bench.timing
					WHERE phase = p AND variant = 'feed');
	plain float8 := (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM bench.timing
					 WHERE phase = p AND variant = 'plain');
BEGIN
	PERFORM bench.check(feed > 0 AND plain > 0,
						format('%s lacks a time (feed %s ms, plain %s ms)', p, feed, plain));
	ratio := round((feed / plain)::numeric, 2);
	SELECT min(f.ms / b.ms), max(f.ms / b.ms), count(*) INTO lo, hi, rounds
	FROM bench.timing f JOIN bench.timing b USING (phase, round)
	WHERE f.phase = p AND f.variant = 'feed' AND b.variant = 'plain';
END $$;
CREATE FUNCTION pg_temp.spread(lo float8, hi float8, rounds int) RETURNS text LANGUAGE sql AS $$
	SELECT CASE WHEN rounds > 1
				THEN format('(median of %s rounds; rounds %s..%s)', rounds,
							to_char(lo, 'FM9990.00'), to_char(hi, 'FM9990.00'))
				ELSE '(one run)' END
$$;
SELECT format('%-7s %-28s = %6sx  %-20s %-4s  %s',
			  'ingest:', 'feed/plain', to_char(e.ratio, 'FM9990.00'),
			  format('(target <= %sx)', :target),
			  CASE WHEN e.ratio <= :target THEN 'PASS' ELSE 'MISS' END,
			  pg_temp.spread(e.lo, e.hi, e.rounds))
FROM pg_temp.ratio('entries') e;
SELECT format('%-7s %-28s = %5s%%  %-20s %-4s  (entries a second: the feed''s over the plain insert''s)',
			  'ingest:', 'feed rate/plain rate', to_char(100 / e.ratio, 'FM990.0'),
			  format('(target >= %s%%)', round(100.0 / :target)),
			  CASE WHEN e.ratio <= :target THEN 'PASS' ELSE 'MISS' END)
FROM pg_temp.ratio('entries') e;
SELECT format('%-7s %-28s = %6sx  %-20s %-4s  (person messages, against inserting the rows their linkage made)',
			  'people:', 'feed/plain', to_char(p.ratio, 'FM9990.00'), '', 'info')
FROM pg_temp.ratio('people') p;
SQL
echo "(ratios of times taken in the server; raw times, for this machine only:"
echo " $OUT/ingest_timings.csv, per batch $OUT/ingest_batch_timings.csv)"
