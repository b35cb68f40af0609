#!/usr/bin/env bash
# Bench: what the audit trail costs.  The feed's writes with the write-audit
# triggers (audit_insert, audit_update and audit_delete on the scr tables)
# enabled, against the same writes with them disabled (ALTER TABLE ...
# DISABLE TRIGGER); a clinician's reads with read audit, against the same
# reads with scr.audit_reads = off.
#
#   bulk     30,000 entry messages of 1,500 people of one GP source through
#            scr.ingest_batch in batches of 1000, one transaction a batch, as
#            the source's bound feed login, each patient's entries together
#            (as a source sends a record): one write event per patient of a
#            batch.  Target: audited <= 1.5x unaudited.
#   bulk mix (info) the same entries in random order: a batch touches
#            hundreds of patients: about three entries in four make an event.
#   single   single-row feed writes: pgbench, 8 clients, each transaction one
#            scr.ingest_entry (a new entry for a random patient of the
#            source), 10 s a side.  Target: audited tps >= 0.75x unaudited
#            tps (audit loses at most 25% of the throughput).
#   read     one patient's 100 entries through the clinician view
#            scr.clinical_entry, newest first, as a login in
#            scr_clinical_gateway with a context opened by a signed token;
#            each read a statement of its own (one read event each),
#            repeated for a fixed time a timing, 21 rounds of short timings.  Target: audited <= 1.1x
#            unaudited.  Info: the reads of a timing in one statement (one
#            event); how many read events the worker wrote; the queue's
#            backlog when a timing ended.
#
# Every figure is a ratio of medians measured in this run, the sides of a
# phase taking turns to go first.  bulk and read are timed in the server
# with clock_timestamp(); single is pgbench's tps.  Before every bulk and
# single side the audit queue is drained (scr.audit_flush) and every event
# sealed, so that the audit worker's work for one side does not run into
# the next; before every read timing the queue is drained.
# The bench checks that each side wrote what it should: every entry; one
# write event per patient and statement, or none; one read event per
# audited read statement, or none.  Prints PASS or MISS per target; exits 0
# on a MISS (a bench is not a test), non-zero on errors.
#
# Needs a running server with scr installed and preloaded, given by
# PGHOST/PGPORT/PGUSER as a superuser (scripts/bench.sh provides one), and
# pgbench ($PG_BINDIR, /usr/lib/postgresql/15/bin or the PATH).
# Knobs: SCR_BENCH_AUDIT_PEOPLE (1500), SCR_BENCH_AUDIT_ENTRIES (30000),
# SCR_BENCH_AUDIT_BATCH (1000), SCR_BENCH_AUDIT_BULK_ROUNDS (7),
# SCR_BENCH_AUDIT_CLIENTS (8), SCR_BENCH_AUDIT_SECONDS (10: pgbench's -T),
# SCR_BENCH_AUDIT_PGBENCH_ROUNDS (3), SCR_BENCH_AUDIT_READ_MS (100: a read
# timing repeats its query for about this long),
# SCR_BENCH_AUDIT_READ_ROUNDS (21), SCR_BENCH_AUDIT_DB (scr_bench_audit),
# SCR_BENCH_KEEP=1 (keep the database and the logins), SCR_BENCH_OUT (where
# the raw times go).
set -euo pipefail
source "$(dirname "$0")/lib.bash"

PEOPLE=${SCR_BENCH_AUDIT_PEOPLE:-1500}
ENTRIES=${SCR_BENCH_AUDIT_ENTRIES:-30000}
BATCH=${SCR_BENCH_AUDIT_BATCH:-1000}
BULK_ROUNDS=${SCR_BENCH_AUDIT_BULK_ROUNDS:-7}
CLIENTS=${SCR_BENCH_AUDIT_CLIENTS:-8}
SECONDS_A_SIDE=${SCR_BENCH_AUDIT_SECONDS:-10}
PGBENCH_ROUNDS=${SCR_BENCH_AUDIT_PGBENCH_ROUNDS:-3}
READ_MS=${SCR_BENCH_AUDIT_READ_MS:-100}
ROUNDS=${SCR_BENCH_AUDIT_READ_ROUNDS:-21}
DB=${SCR_BENCH_AUDIT_DB:-scr_bench_audit}
# Cluster-wide: two runs must not overlap on one server.
FEED=scr_bench_audit_feed
GATEWAY=scr_bench_audit_gateway
SOURCE=gp_riverside
for v in PEOPLE ENTRIES BATCH BULK_ROUNDS CLIENTS SECONDS_A_SIDE PGBENCH_ROUNDS READ_MS ROUNDS; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "audit: $v must be a positive integer" >&2; exit 1; }
done
if ((PEOPLE < 10 || ENTRIES < 100 + 2 * (PEOPLE - 1))); then
	echo "audit: need at least 10 people, and entries for 100 for the first and two for each other" >&2
	exit 1
fi
PGBENCH=${PG_BINDIR:-/usr/lib/postgresql/15/bin}/pgbench
[ -x "$PGBENCH" ] || PGBENCH=$(command -v pgbench) || { echo "audit: pgbench not found" >&2; exit 1; }
mkdir -p "$OUT"

# No JIT and no parallel workers (bench/lib.bash).  The people have NHS
# numbers from the 999 test range.
PGOPTIONS+=" -c scr.allow_test_nhs_numbers=on"
bsql() {
	psql -d "$DB" -v people="$PEOPLE" -v entries="$ENTRIES" -v batch="$BATCH" -v source="$SOURCE" \
		-v feed="$FEED" -v gateway="$GATEWAY" "$@"
}

bench_fresh_db "$DB" "$FEED" "$GATEWAY"

echo "audit bench: $ENTRIES entries of $PEOPLE people in batches of $BATCH, $BULK_ROUNDS bulk rounds;" \
	"pgbench $CLIENTS clients ${SECONDS_A_SIDE} s a side, $PGBENCH_ROUNDS rounds;" \
	"reads repeated for ${READ_MS} ms a timing, $ROUNDS rounds;" \
	"$(psql -d postgres -c "SHOW server_version") server, jit off, no parallel workers"

# --- harness: bench/lib.sql, and this bench's own helpers --------------------
bsql -v lib_sql="$BENCH_DIR/lib.sql" <<'SQL'
\o /dev/null
CREATE EXTENSION scr;
\i :lib_sql
-- Monthly audit partitions, as docs/audit.md says to make them.
SELECT scr.audit_create_partitions(1);
-- Phase labels up to 'bulk mix:'.
UPDATE bench.line_style SET label_width = 9;

-- Write audit on or off: every audit_insert, audit_update and audit_delete
-- trigger of the scr tables (the DO block in src/audit.sql).
CREATE FUNCTION bench.audit_writes(on_ boolean) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	t record;
	n int := 0;
BEGIN
	FOR t IN SELECT tg.tgrelid::regclass AS rel, tg.tgname
			 FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid
			 WHERE c.relnamespace = 'scr'::regnamespace
			   AND tg.tgname IN ('audit_insert', 'audit_update', 'audit_delete')
			 ORDER BY 1, 2 LOOP
		EXECUTE format('ALTER TABLE %s %s TRIGGER %I', t.rel, CASE WHEN on_ THEN 'ENABLE' ELSE 'DISABLE' END,
					   t.tgname);
		n := n + 1;
	END LOOP;
	PERFORM bench.check(n >= 45, format('found %s write-audit triggers, expected 3 on each of 15+ tables', n));
END $$;

-- Wait until the worker has written every queued event (sealing may
-- follow).  SECURITY DEFINER: the gateway login calls it.
CREATE FUNCTION bench.drain() RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
	PERFORM bench.check(scr.audit_flush('120 seconds'), 'the audit queue did not drain in 120 s');
END $$;

-- Events queued and not yet written, for this database.
CREATE FUNCTION bench.audit_backlog() RETURNS bigint LANGUAGE sql SECURITY DEFINER AS $$
	SELECT coalesce(sum(queued), 0)::bigint FROM scr.audit_queue_status()
	WHERE database_oid = (SELECT oid FROM pg_database WHERE datname = current_database())
$$;

-- Read audit on or off for the calling session.  scr.audit_reads is
-- superuser-only: this function is the superuser's, and the gateway login
-- may call it (its own SET is refused: checked below).  No SET clause, so
-- the setting outlives the call.
CREATE FUNCTION bench.set_audit_reads(on_ boolean) RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
	PERFORM pg_catalog.set_config('scr.audit_reads', CASE WHEN on_ THEN 'on' ELSE 'off' END, false);
END $$;
REVOKE ALL ON FUNCTION bench.quiesce(), bench.drain(), bench.audit_backlog(), bench.set_audit_reads(boolean)
	FROM PUBLIC;

-- Write events so far (for the checks of each side).
CREATE TABLE bench.side (phase text, variant text, round int, what text, events_before bigint,
						 events_after bigint, rows_before bigint, rows_after bigint);
CREATE FUNCTION bench.write_events() RETURNS bigint LANGUAGE sql AS $$
	SELECT count(*) FROM scr.audit_event WHERE event_type = 'write' AND object_table = 'entry'
$$;
CREATE FUNCTION bench.side_start(p text, v text, r int, w text) RETURNS void LANGUAGE sql AS $$
	INSERT INTO bench.side VALUES (p, v, r, w, bench.write_events(), NULL, (SELECT count(*) FROM scr.entry), NULL)
$$;
CREATE FUNCTION bench.side_end(p text, v text, r int) RETURNS void LANGUAGE sql AS $$
	UPDATE bench.side SET events_after = bench.write_events(), rows_after = (SELECT count(*) FROM scr.entry)
	WHERE phase = p AND variant = v AND round = r
$$;

-- No autovacuum on the tables the timed sides write (bench/lib.sql).
SELECT bench.autovacuum_off(ARRAY['scr.entry', 'scr.entry_history', 'scr.feed_error', 'scr.audit_seal']::regclass[]);
SQL

# --- data: one GP source, its people, their entries ---------------------------
say "loading $PEOPLE people through scr.ingest_batch (not timed)"
bsql <<'SQL'
\o /dev/null
SELECT setseed(0.2025);
INSERT INTO scr.organisation (ods_code, name, kind) VALUES ('A81001', 'Riverside Practice', 'gp_practice');
INSERT INTO scr.source_system (source_code, ods_code, kind) VALUES (:'source', 'A81001', 'gp');

-- The feed login, bound to the source; the gateway login.
SELECT format('CREATE ROLE %I LOGIN IN ROLE scr_feed', :'feed')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'feed') \gexec
SELECT format('CREATE ROLE %I LOGIN IN ROLE scr_clinical_gateway', :'gateway')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'gateway') \gexec
INSERT INTO scr.feed_binding VALUES (:'feed', :'source');
SELECT bench.check(NOT rolsuper AND NOT rolbypassrls, rolname || ' is a superuser or bypasses RLS')
FROM pg_roles WHERE rolname IN (:'feed', :'gateway');

-- People 1..:people, local ids p1, p2, ...: distinct names and birth dates,
-- valid NHS numbers from the 999 test range, registered at the practice.
-- Person 1 is the patient whose record is read.
CREATE TABLE bench.person AS
WITH stems AS (
	SELECT s, (SELECT sum(substr(s::text, i, 1)::int * (11 - i)) FROM generate_series(1, 9) i) % 11 AS w
	FROM generate_series(999000001, 999000001 + 2 * :people) s
), valid AS (
	SELECT s::text || ((11 - w) % 11)::text AS nhs_number, row_number() OVER (ORDER BY s) AS n
	FROM stems WHERE (11 - w) % 11 <> 10
)
SELECT n::int AS n, 'p' || n AS local_id, nhs_number FROM valid WHERE n <= :people;
SELECT bench.check(count(*) = :people, 'too few NHS numbers') FROM bench.person;

CREATE TABLE bench.person_batch AS
SELECT (n - 1) / 500 AS chunk,
	   jsonb_agg(jsonb_build_object('type', 'person', 'local_id', local_id, 'demographics',
				 jsonb_build_object('nhs_number', nhs_number, 'nhs_number_status', '01',
									'given_name', 'Given' || n, 'family_name', 'Family' || n,
									'birth_date', to_char(date '1935-01-01' + (n * 7919) % 30000, 'YYYY-MM-DD'),
									'sex', (ARRAY['female', 'male'])[1 + n % 2],
									'postcode', 'LS' || (1 + n % 9) || ' ' || (n % 10) || 'AB',
									'gp_practice', 'A81001')) ORDER BY n) AS messages
FROM bench.person GROUP BY 1;

-- The entries: 100 for person 1, the rest spread evenly over the others.
-- Kinds and statuses in turn, all of normal sensitivity.
CREATE TABLE bench.entry_src AS
WITH e AS (
	SELECT i, CASE WHEN i <= 100 THEN 1 ELSE 2 + (i - 101) % (:people - 1) END AS person
	FROM generate_series(1, :entries) i
)
SELECT e.i, e.person, p.local_id, k.kind, k.fhir_resource_type,
	   CASE k.kind WHEN 'observation' THEN 'final' WHEN 'encounter' THEN 'finished' ELSE 'active' END AS status,
	   (100000 + e.i % 5000)::text AS code,
	   timestamptz '2015-01-01 00:00Z' + (random() * 3500) * interval '1 day' AS effective_start,
	   random() AS shuffle
FROM e
JOIN bench.person p ON p.n = e.person
JOIN scr.entry_kind k ON k.kind = (ARRAY['observation', 'medication', 'problem', 'encounter', 'allergy'])[1 + e.i % 5];

-- The batches, in two layouts of the same entries: 'grouped', each
-- patient's entries together (a source sends a patient's record at once);
-- 'mixed', in random order.  Stored uncompressed, so that reading one costs
-- no decompression.
CREATE TABLE bench.batch (layout text, chunk int, messages_n int, patients int, messages jsonb,
						  PRIMARY KEY (layout, chunk));
ALTER TABLE bench.batch ALTER COLUMN messages SET STORAGE EXTERNAL;
INSERT INTO bench.batch
SELECT layout, (o - 1) / :batch, count(*), count(DISTINCT person),
	   jsonb_agg(jsonb_build_object('type', 'entry', 'local_id', local_id, 'entry', jsonb_build_object(
			'kind', kind, 'source_ref', 'bulk-' || i,
			'source_timestamp', to_char(effective_start + interval '2 hours', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
			'status', status, 'code_system', 'http://snomed.info/sct', 'code', code,
			'display', initcap(kind) || ' ' || code,
			'effective_start', to_char(effective_start, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
			'sensitivity', 'N',
			'payload', jsonb_build_object('resourceType', fhir_resource_type, 'code', jsonb_build_object(
				'coding', jsonb_build_array(jsonb_build_object('system', 'http://snomed.info/sct',
															   'code', code, 'display', initcap(kind) || ' ' || code))))))
			 ORDER BY o)
FROM (SELECT 'grouped' AS layout, row_number() OVER (ORDER BY person, i) AS o, * FROM bench.entry_src
	  UNION ALL
	  SELECT 'mixed', row_number() OVER (ORDER BY shuffle, i), * FROM bench.entry_src) x
GROUP BY layout, (o - 1) / :batch;

GRANT USAGE ON SCHEMA bench TO scr_feed, scr_clinical_gateway;
GRANT SELECT ON bench.batch, bench.person_batch TO scr_feed;
GRANT INSERT ON bench.timing TO scr_feed, scr_clinical_gateway;
CREATE SEQUENCE bench.single_ref;
GRANT USAGE ON SEQUENCE bench.single_ref TO scr_feed;
SQL
# The people, 500 a statement as the feed login, with ANALYZE in between so
# that linkage does not plan against an empty record for the whole load.
for chunk in $(bsql -c "SELECT chunk FROM bench.person_batch ORDER BY chunk"); do
	bsql -c "SET ROLE $FEED" -c "SELECT bench.check(loaded = messages_n AND rejected = 0,
			 format('person batch %s: %s loaded, %s rejected', $chunk, loaded, rejected))
		FROM (SELECT jsonb_array_length(messages) AS messages_n, r.*
			  FROM bench.person_batch b, scr.ingest_batch('$SOURCE', b.messages) r WHERE b.chunk = $chunk) x" \
		-c "RESET ROLE" -c "ANALYZE" >/dev/null
done
bsql <<'SQL'
\o /dev/null
SELECT bench.check(count(DISTINCT si.patient_id) = :people AND count(*) = :people,
				   format('the people became %s patients, not %s', count(DISTINCT si.patient_id), :people))
FROM scr.source_identifier si WHERE si.source_code = :'source';
-- The whole load goes through here, one transaction a batch (COMMIT), as
-- the feed login.  Round 0 is the warm-up, not recorded.
CREATE PROCEDURE bench.load(p_source text, p_phase text, p_variant text, p_round int, p_layout text)
LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
	b record;
	r record;
BEGIN
	t0 := clock_timestamp();
	FOR b IN SELECT chunk, messages_n FROM bench.batch WHERE layout = p_layout ORDER BY chunk LOOP
		SELECT x.* INTO r FROM bench.batch c, scr.ingest_batch(p_source, c.messages) x
		WHERE c.layout = p_layout AND c.chunk = b.chunk;
		IF r.loaded <> b.messages_n OR r.rejected <> 0 THEN
			RAISE EXCEPTION 'audit bench: % batch %: % of % loaded, % rejected (see scr.feed_error)',
				p_layout, b.chunk, r.loaded, b.messages_n, r.rejected;
		END IF;
		COMMIT;
	END LOOP;
	IF p_round > 0 THEN
		INSERT INTO bench.timing VALUES (p_phase, p_variant, p_round, 1000 * extract(epoch FROM clock_timestamp() - t0));
	END IF;
	COMMIT;
END $$;
SQL

# --- bulk: the entries through scr.ingest_batch, write audit on and off -----
# Every side writes the same entries into an empty scr.entry (TRUNCATE; the
# audit trail is append-only and keeps growing, on both sides alike).  Round
# 0 is one unrecorded warm-up load.  The four variants take turns to go
# first, as in bench/lib.sql's bench.measure.
say "bulk: $ENTRIES entries x 2 layouts x write audit on/off x $BULK_ROUNDS rounds, after a warm-up"
BULK_VARIANTS=("bulk audited grouped true" "bulk unaudited grouped false"
	"bulk_mix audited mixed true" "bulk_mix unaudited mixed false")
bulk_side() {
	local phase=${1/_/ } variant=$2 layout=$3 on=$4 round=$5
	cat <<SQL
SELECT bench.audit_writes($on);
TRUNCATE scr.entry, scr.entry_history, scr.feed_error;
VACUUM ANALYZE scr.entry, scr.entry_history, scr.feed_error;
SELECT bench.touch('bench.batch');
CHECKPOINT;
SELECT bench.quiesce();
SELECT bench.side_start('$phase', '$variant', $round, '$layout');
SET ROLE $FEED;
CALL bench.load('$SOURCE', '$phase', '$variant', $round, '$layout');
RESET ROLE;
SELECT bench.side_end('$phase', '$variant', $round);
SQL
}
{
	echo '\o /dev/null'
	# shellcheck disable=SC2086
	bulk_side ${BULK_VARIANTS[0]} 0
	for ((r = 1; r <= BULK_ROUNDS; r++)); do
		for ((j = 0; j < 4; j++)); do
			# shellcheck disable=SC2086
			bulk_side ${BULK_VARIANTS[(r + j) % 4]} "$r"
		done
	done
	echo 'SELECT bench.audit_writes(true);'
} | bsql
# Each side stored every entry; an audited load wrote one event per patient
# of each batch (one INSERT a batch), an unaudited one none.
bsql <<'SQL'
\o /dev/null
SELECT bench.check(s.rows_before = 0 AND s.rows_after = :entries
				   AND s.events_after - s.events_before
					   = CASE WHEN s.variant = 'audited' THEN (SELECT sum(patients) FROM bench.batch b WHERE b.layout = s.what)
							  ELSE 0 END,
				   format('%s %s, round %s: %s entries stored, %s write events (expected %s entries, %s events)',
						  s.phase, s.variant, s.round, s.rows_after - s.rows_before, s.events_after - s.events_before,
						  :entries, CASE WHEN s.variant = 'audited' THEN (SELECT sum(patients) FROM bench.batch b WHERE b.layout = s.what) ELSE 0 END))
FROM bench.side s WHERE s.phase LIKE 'bulk%';
VACUUM ANALYZE scr.entry;
SQL

# --- single: pgbench, one scr.ingest_entry a transaction ---------------------
# A new entry (a fresh source_ref from a sequence) for a random patient of
# the source other than the one whose record is read.  pgbench connects as
# the superuser given by PGUSER and takes the feed login's role at once
# (-c role=...), so only the PG* variables are needed.
PGBENCH_SCRIPT=$OUT/audit_single.pgbench
cat >"$PGBENCH_SCRIPT" <<EOF
\\set p random(2, $PEOPLE)
SELECT scr.ingest_entry('$SOURCE', 'p' || :p, jsonb_build_object('kind', 'observation', 'source_ref', 'single-' || nextval('bench.single_ref'), 'source_timestamp', '2024-03-01T10:00:00Z', 'status', 'final', 'code_system', 'http://snomed.info/sct', 'code', '271649006', 'display', 'Systolic blood pressure', 'effective_start', '2024-03-01T09:30:00Z', 'sensitivity', 'N', 'payload', '{"resourceType": "Observation", "code": {"coding": [{"system": "http://snomed.info/sct", "code": "271649006", "display": "Systolic blood pressure"}]}}'::jsonb));
EOF
THREADS=$((CLIENTS < 2 ? CLIENTS : 2))
single_side() {
	local variant=$1 on=$2 round=$3 seconds=$4 out tps failed
	bsql -c "SELECT bench.audit_writes($on)" -c "CHECKPOINT" -c "SELECT bench.quiesce()" \
		-c "SELECT bench.side_start('single', '$variant', $round, 'pgbench')" >/dev/null
	if ! out=$(PGOPTIONS="$PGOPTIONS -c role=$FEED" "$PGBENCH" -n -c "$CLIENTS" -j "$THREADS" -T "$seconds" \
		-f "$PGBENCH_SCRIPT" "$DB" 2>&1); then
		echo "audit: pgbench failed ($variant, round $round):" >&2
		echo "$out" >&2
		exit 1
	fi
	tps=$(awk '/^tps = / { print $3; exit }' <<<"$out")
	failed=$(awk '/^number of failed transactions:/ { print $5; exit }' <<<"$out")
	if ! [[ $tps =~ ^[0-9.]+$ ]] || [ "${failed:-0}" != 0 ]; then
		echo "audit: pgbench gave no tps or failed transactions ($variant, round $round):" >&2
		echo "$out" >&2
		exit 1
	fi
	bsql -c "SELECT bench.side_end('single', '$variant', $round)" \
		-c "INSERT INTO bench.timing SELECT 'single', '$variant tps', $round, $tps WHERE $round > 0" >/dev/null
}
say "single: pgbench, $CLIENTS clients, scr.ingest_entry, write audit on/off x $PGBENCH_ROUNDS rounds of ${SECONDS_A_SIDE} s a side"
single_side audited true 0 2
for ((r = 1; r <= PGBENCH_ROUNDS; r++)); do
	if ((r % 2 == 1)); then
		single_side unaudited false "$r" "$SECONDS_A_SIDE"
		single_side audited true "$r" "$SECONDS_A_SIDE"
	else
		single_side audited true "$r" "$SECONDS_A_SIDE"
		single_side unaudited false "$r" "$SECONDS_A_SIDE"
	fi
done
bsql <<'SQL'
\o /dev/null
SELECT bench.audit_writes(true);
-- One write event per audited transaction (one entry, one patient), none
-- unaudited.
SELECT bench.check(s.rows_after > s.rows_before
				   AND s.events_after - s.events_before
					   = CASE WHEN s.variant = 'audited' THEN s.rows_after - s.rows_before ELSE 0 END,
				   format('single %s, round %s: %s entries, %s write events',
						  s.variant, s.round, s.rows_after - s.rows_before, s.events_after - s.events_before))
FROM bench.side s WHERE s.phase = 'single';
SQL

# --- read: one patient's record, read audit on and off ---------------------
# The clinician: a doctor (R8000) at the practice, which the feed related to
# every patient it registered.  Signed tokens, minted now: each opens one
# context.
say "read: one patient's entries through scr.clinical_entry, read audit on/off x $ROUNDS rounds, each repeated for about $READ_MS ms"
bsql <<'SQL'
\o /dev/null
INSERT INTO scr.professional (professional_id, name) VALUES ('P100001', 'Dr Bench');
INSERT INTO scr.role_profile (role_profile_id, professional_id, ods_code, job_role)
VALUES ('RP100001', 'P100001', 'A81001', 'R8000');
INSERT INTO scr.context_key (key_id, secret) VALUES ('bench', gen_random_uuid()::text::bytea);
CREATE TABLE bench.token (n int GENERATED ALWAYS AS IDENTITY, token text NOT NULL);
INSERT INTO bench.token (token)
SELECT scr.mint_context_token('bench', 'P100001', 'RP100001', 'A81001', 'TREAT', NULL, 3600)
FROM generate_series(1, 4);
CREATE FUNCTION bench.next_token() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	t text;
BEGIN
	DELETE FROM bench.token WHERE n = (SELECT min(n) FROM bench.token) RETURNING token INTO t;
	PERFORM bench.check(t IS NOT NULL, 'out of tokens');
	RETURN t;
END $$;
GRANT SELECT, DELETE ON bench.token TO scr_clinical_gateway;

CREATE TABLE bench.focus AS
SELECT si.patient_id FROM scr.source_identifier si WHERE si.source_code = :'source' AND si.local_id = 'p1';
GRANT SELECT ON bench.focus TO scr_clinical_gateway;

-- The queue's backlog when each read timing ended.
CREATE TABLE bench.read_backlog (round int, audited boolean, queued bigint);
GRANT INSERT ON bench.read_backlog TO scr_clinical_gateway;

-- Read events written so far, once the queue is drained.
CREATE FUNCTION bench.read_events() RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
	PERFORM bench.quiesce();
	RETURN (SELECT count(*) FROM scr.audit_event WHERE event_type = 'read');
END $$;
REVOKE ALL ON FUNCTION bench.read_events() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bench.quiesce(), bench.drain(), bench.audit_backlog(), bench.set_audit_reads(boolean),
	bench.read_events() TO :"gateway";

-- How many times to repeat q so that one timing takes about ms.
CREATE FUNCTION bench.reps(q text, ms float8) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	t float8;
BEGIN
	PERFORM bench.time_ms(q);
	t := bench.time_ms(q);
	RETURN least(100000, greatest(1, ceil(ms / greatest(t, 0.001))))::int;
END $$;

-- The read rounds.  Each read is a statement of its own: EXECUTE directly
-- in a procedure (CALL runs no executor, so each read is the top-level
-- query the read audit makes one event for, as a client's statement is).
-- Variants: 'audited' and 'unaudited' (read audit on and off for this
-- session); 'one statement', audited, the timing's reads EXECUTEd by a
-- function that one SELECT calls, so they all belong to that SELECT and
-- make one event: the capture of each row without the event of each
-- statement.  The timings are short and many, so that a burst of load from
-- elsewhere hits every variant alike.  The worker is idle (queue drained,
-- events sealed) when the rounds start; before each timing the queue is
-- drained, and the worker's sealing (once a second) falls on whichever
-- timing is running.  Round 0 is the warm-up.  A COMMIT after each timing
-- ends the transaction that wrote its row, so that the worker can seal what
-- came after it.
CREATE FUNCTION bench.repeat(q text, n int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1 .. n LOOP
		EXECUTE q;
	END LOOP;
END $$;
CREATE PROCEDURE bench.read_rounds(q text, n int, rounds int)
LANGUAGE plpgsql AS $$
DECLARE
	variants text[] := ARRAY['audited', 'unaudited', 'one statement'];
	v text;
	t0 timestamptz;
	ms float8;
	queued bigint;
BEGIN
	PERFORM bench.quiesce();
	FOR r IN 0 .. rounds LOOP
		FOR j IN 0 .. 2 LOOP
			v := variants[(r + j) % 3 + 1];
			PERFORM bench.set_audit_reads(v <> 'unaudited');
			PERFORM bench.drain();
			t0 := clock_timestamp();
			IF v = 'one statement' THEN
				PERFORM bench.repeat(q, n);
			ELSE
				FOR i IN 1 .. n LOOP
					EXECUTE q;
				END LOOP;
			END IF;
			ms := 1000 * extract(epoch FROM clock_timestamp() - t0) / n;
			queued := bench.audit_backlog();
			IF r > 0 THEN
				INSERT INTO bench.timing VALUES ('read', v, r, ms);
				INSERT INTO bench.read_backlog VALUES (r, v = 'audited', queued);
			END IF;
			COMMIT;
		END LOOP;
	END LOOP;
	PERFORM bench.set_audit_reads(true);
END $$;
SQL
FOCUS=$(bsql -c "SELECT patient_id FROM bench.focus")
Q_READ="SELECT * FROM scr.clinical_entry WHERE patient_id = $FOCUS ORDER BY effective_start DESC"
read -r n_visible n_no_context reps events_before events_after < <({
	printf 'SET ROLE %s;\n' "$GATEWAY"
	cat <<'SQL'
-- Without a context the gateway sees nothing: the policy is in force.
SELECT count(*) AS n_no_context FROM scr.entry \gset
SELECT scr.open_context(bench.next_token(), true) \g /dev/null
SELECT bench.check(current_user = :'gateway', 'not reading as the gateway login') \g /dev/null
-- The gateway login cannot turn read audit off itself.
DO $$
BEGIN
	SET scr.audit_reads = off;
	RAISE EXCEPTION 'audit bench: the gateway login may SET scr.audit_reads';
EXCEPTION WHEN insufficient_privilege THEN
	NULL;
END $$;
-- An index scan of scr.entry by patient, the policy on each row, a sort.
SET enable_bitmapscan = off;
SELECT bench.require_plan(:'q_read', ARRAY['Index Scan using \S+ on entry', 'may_read_entry', 'Sort'],
						  'Seq Scan|Bitmap', false) \g /dev/null
SELECT count(*) AS n_visible FROM scr.clinical_entry WHERE patient_id = :focus \gset
SELECT bench.set_audit_reads(false) \g /dev/null
SELECT bench.reps(:'q_read', :read_ms) AS reps \gset
SELECT bench.read_events() AS events_before \gset
CALL bench.read_rounds(:'q_read', :reps, :rounds);
SELECT bench.read_events() AS events_after \gset
\echo :n_visible :n_no_context :reps :events_before :events_after
SQL
} | bsql -v q_read="$Q_READ" -v focus="$FOCUS" -v read_ms="$READ_MS" -v rounds="$ROUNDS")
for v in n_visible n_no_context reps events_before events_after; do
	[[ ${!v:-} =~ ^[0-9]+$ ]] || { echo "audit: the read phase returned no $v" >&2; exit 1; }
done
read_events=$((events_after - events_before))
audited_reads=$(((ROUNDS + 1) * reps))
expected_events=$(((ROUNDS + 1) * (reps + 1)))
if [ "$n_visible" != 100 ] || [ "$n_no_context" != 0 ]; then
	echo "audit: the clinician sees $n_visible of the patient's 100 entries, $n_no_context without a context" >&2
	exit 1
fi
# One event per audited statement (and one per 'one statement' timing),
# none unaudited; each names the patient and the clinician.
if [ "$read_events" != "$expected_events" ]; then
	echo "audit: the read phase wrote $read_events read events, not $expected_events: one per audited" \
		"read statement ($audited_reads) and one per 'one statement' timing ($((ROUNDS + 1)))" >&2
	exit 1
fi
bsql -v focus="$FOCUS" <<'SQL'
\o /dev/null
SELECT bench.check(count(*) = 0, count(*) || ' read events name another patient or actor, or not the view')
FROM scr.audit_event WHERE event_type = 'read'
  AND (patient_id IS DISTINCT FROM :focus OR professional_id IS DISTINCT FROM 'P100001'
	   OR caller IS DISTINCT FROM :'gateway' OR object_table !~ 'clinical_entry');
SQL

# --- report ----------------------------------------------------------------------
# The raw figures: ms per load (bulk), tps (single), ms per read (read).
bsql -c "\\copy (SELECT phase, variant, round, ms AS value,
	CASE WHEN phase = 'single' THEN 'tps' WHEN phase = 'read' THEN 'ms a read' ELSE 'ms a load' END AS unit
	FROM bench.timing ORDER BY phase, round, variant) TO '$OUT/audit_timings.csv' CSV HEADER"
echo
bsql -v reps="$reps" -v read_events="$read_events" -v audited_reads="$audited_reads" \
	-v clients="$CLIENTS" -v seconds="$SECONDS_A_SIDE" <<'SQL'
SELECT bench.line('bulk', 'audited', 'unaudited', 'max', 1.5,
	format('(each patient''s entries together: %s write events a load, %s a batch)',
		   sum(patients), round(avg(patients))))
FROM bench.batch WHERE layout = 'grouped';
SELECT bench.line('bulk mix', 'audited', 'unaudited', 'info', NULL,
	format('(entries in random order: %s write events a load, %s a batch)',
		   sum(patients), round(avg(patients))))
FROM bench.batch WHERE layout = 'mixed';
SELECT bench.line('single', 'audited tps', 'unaudited tps', 'min', 0.75,
	format('(pgbench, %s clients, %s s a side: %s%% of the throughput lost; one write event a transaction)',
		   :clients, :seconds,
		   round(100 * (1 - bench.median('single', 'audited tps') / bench.median('single', 'unaudited tps')))));
SELECT bench.line('read', 'audited', 'unaudited', 'max', 1.1,
	'(one patient''s 100 entries through scr.clinical_entry)');
SELECT bench.line('read', 'one statement', 'unaudited', 'info', NULL,
	'(audited, a timing''s reads in one statement: each row noted, one event)');
SELECT format('%-9s %-28s   %s  (one per audited read statement, %s timings of %s, and one per ''one statement'' timing; none unaudited)',
			  'read:', 'read events written', :read_events, :'audited_reads'::int / :reps, :reps);
SELECT format('%-9s %-28s   %s of %s  (events not yet written when an audited timing ended, at most; median %s)',
			  'read:', 'queue backlog', max(queued), current_setting('scr.audit_queue_size'),
			  percentile_disc(0.5) WITHIN GROUP (ORDER BY queued))
FROM bench.read_backlog WHERE audited;
SQL
rounds_footer audit_timings.csv
