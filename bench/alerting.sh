#!/usr/bin/env bash
# Bench: what the alert rules cost the feed.  A feed load through
# scr.ingest_batch with the alert triggers (alert_on_entries on scr.entry,
# alert_on_death on scr.patient) enabled, as installed, against the same
# load with them disabled (ALTER TABLE ... DISABLE TRIGGER).
#
#   alerting  30,000 entry messages of 1,500 people from three sources (a
#             GP practice, a hospital, a council) through scr.ingest_batch
#             in batches of 1000, one transaction a batch, as a feed login
#             bound to the three sources, the sources' batches taking turns.
#             Mostly ordinary entries; 2% hospital admissions (encounter
#             code 32485007), 1.5% A&E attendances (50849002), 0.5%
#             safeguarding alerts (kind alert, sensitivity category
#             safeguarding).  One patient in five has an active End of Life
#             care plan or an End of Life record, so the End of Life rules
#             fire, and a quarter are known to the council, so safeguarding
#             alerts have a recipient; repeats fold into the alert raised
#             first.
#             Target: with rules <= 1.2x without.  Info: the alerts raised
#             and the rule events folded into them, a load.
#
# Every figure is a ratio of medians measured in this run, the two sides
# taking turns to go first over interleaved rounds, timed in the server with
# clock_timestamp().  Each side loads into an empty state: scr.entry, its
# history, the dead letters and scr.alert emptied (TRUNCATE).  Write audit
# stays on (as installed) on both sides; before every side the audit queue
# is drained and every event sealed (bench/audit.sh).  The bench checks that
# each side stored every entry, that a side with the rules raised exactly
# the alerts the rules call for (computed here from how the data was made,
# not by scr), each notified once, with every repeat folded in, and that a
# side without them raised none.  Prints PASS or MISS; exits 0 on a MISS (a
# bench is not a test), non-zero on errors.
#
# Needs a running server with scr installed and preloaded, given by
# PGHOST/PGPORT/PGUSER as a superuser (scripts/bench.sh provides one).
# Knobs: SCR_BENCH_ALERT_PEOPLE (1500), SCR_BENCH_ALERT_ENTRIES (30000),
# SCR_BENCH_ALERT_BATCH (1000), SCR_BENCH_ALERT_ROUNDS (7),
# SCR_BENCH_ALERT_DB (scr_bench_alerting), SCR_BENCH_KEEP=1 (keep the
# database and the logins), SCR_BENCH_OUT (where the raw times go).
set -euo pipefail
source "$(dirname "$0")/lib.bash"

PEOPLE=${SCR_BENCH_ALERT_PEOPLE:-1500}
ENTRIES=${SCR_BENCH_ALERT_ENTRIES:-30000}
BATCH=${SCR_BENCH_ALERT_BATCH:-1000}
ROUNDS=${SCR_BENCH_ALERT_ROUNDS:-7}
DB=${SCR_BENCH_ALERT_DB:-scr_bench_alerting}
# Cluster-wide: two runs must not overlap on one server.
FEED=scr_bench_alert_feed
GATEWAY=scr_bench_alert_gateway
for v in PEOPLE ENTRIES BATCH ROUNDS; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "alerting: $v must be a positive integer" >&2; exit 1; }
done
if ((PEOPLE < 100 || ENTRIES < 1000)); then
	echo "alerting: need at least 100 people and 1000 entries" >&2
	exit 1
fi
mkdir -p "$OUT"

# No JIT and no parallel workers (bench/lib.bash).  The people have NHS
# numbers from the 999 test range.
PGOPTIONS+=" -c scr.allow_test_nhs_numbers=on"
bsql() {
	psql -d "$DB" -v people="$PEOPLE" -v entries="$ENTRIES" -v batch="$BATCH" -v feed="$FEED" \
		-v gateway="$GATEWAY" "$@"
}

bench_fresh_db "$DB" "$FEED" "$GATEWAY"

echo "alerting bench: $ENTRIES entries of $PEOPLE people from 3 sources in batches of $BATCH," \
	"alert rules on/off x $ROUNDS rounds;" \
	"$(psql -d postgres -c "SHOW server_version") server, jit off, no parallel workers"

# --- harness: bench/lib.sql, and this bench's own helpers --------------------
bsql -v lib_sql="$BENCH_DIR/lib.sql" <<'SQL'
\o /dev/null
CREATE EXTENSION scr;
\i :lib_sql
-- Monthly audit partitions, as docs/audit.md says to make them.
SELECT scr.audit_create_partitions(1);
-- Phase label 'alerting:'.
UPDATE bench.line_style SET label_width = 9;

-- The alert rules on or off: the two statement triggers of src/alerting.sql.
CREATE FUNCTION bench.alert_rules(on_ boolean) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('ALTER TABLE scr.entry %s TRIGGER alert_on_entries', CASE WHEN on_ THEN 'ENABLE' ELSE 'DISABLE' END);
	EXECUTE format('ALTER TABLE scr.patient %s TRIGGER alert_on_death', CASE WHEN on_ THEN 'ENABLE' ELSE 'DISABLE' END);
	PERFORM bench.check(count(*) = 2 AND bool_and((tgenabled <> 'D') = on_),
						format('the alert triggers are not both %s', CASE WHEN on_ THEN 'enabled' ELSE 'disabled' END))
	FROM pg_trigger
	WHERE (tgrelid, tgname) IN (('scr.entry'::regclass, 'alert_on_entries'), ('scr.patient'::regclass, 'alert_on_death'));
END $$;

-- What each side left behind, for the checks.
CREATE TABLE bench.side (variant text, round int, entries bigint, alerts bigint, occurrences bigint,
						 notified bigint, dead_letters bigint);
CREATE FUNCTION bench.side_end(v text, r int) RETURNS void LANGUAGE sql AS $$
	INSERT INTO bench.side
	SELECT v, r, (SELECT count(*) FROM scr.entry), count(*), coalesce(sum(occurrences), 0),
		   count(notified_at), (SELECT count(*) FROM scr.feed_error)
	FROM scr.alert
$$;

-- No autovacuum on the tables the timed sides write (bench/lib.sql).
SELECT bench.autovacuum_off(ARRAY['scr.entry', 'scr.entry_history', 'scr.feed_error', 'scr.alert',
								 'scr.audit_seal']::regclass[]);
SQL

# --- data: three sources, their people, End of Life patients, the entries -----
say "loading $PEOPLE people through scr.ingest_batch, End of Life plans and records (not timed)"
bsql <<'SQL'
\o /dev/null
SELECT setseed(0.2026);
INSERT INTO scr.organisation (ods_code, name, kind) VALUES
	('A81001', 'Riverside Practice', 'gp_practice'), ('RR801', 'Riverside Hospital', 'nhs_trust'),
	('LA801', 'Riverside Council', 'local_authority');
INSERT INTO scr.source_system (source_code, ods_code, kind) VALUES
	('gp_riverside', 'A81001', 'gp'), ('hosp_riverside', 'RR801', 'acute'), ('council_riverside', 'LA801', 'social_care');

-- The feed login, bound to the three sources; the gateway login (care plans).
SELECT format('CREATE ROLE %I LOGIN IN ROLE scr_feed', :'feed')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'feed') \gexec
SELECT format('CREATE ROLE %I LOGIN IN ROLE scr_clinical_gateway', :'gateway')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'gateway') \gexec
INSERT INTO scr.feed_binding SELECT :'feed', source_code FROM scr.source_system;
SELECT bench.check(NOT rolsuper AND NOT rolbypassrls, rolname || ' is a superuser or bypasses RLS')
FROM pg_roles WHERE rolname IN (:'feed', :'gateway');

-- People 1..:people, local ids p1, p2, ... at every source that knows
-- them: distinct names and birth dates, valid NHS numbers from the 999 test
-- range, registered at the practice.  Who is what (by n):
--   n % 10 = 1  an active End of Life care plan, key worker P100001 (the GP)
--   n % 10 = 3  an End of Life record, key worker P100002 (a district nurse)
--               when n % 20 = 3, none when n % 20 = 13
--   n % 20 = 7  a draft End of Life plan only: not active, no alerts
--   the GP knows everyone; the hospital those with n % 3 <> 0; the council
--   those with n % 4 = 0 (its referral is the relationship in force that
--   makes it a recipient of safeguarding alerts).
CREATE TABLE bench.person AS
WITH stems AS (
	SELECT s, (SELECT sum(substr(s::text, i, 1)::int * (11 - i)) FROM generate_series(1, 9) i) % 11 AS w
	FROM generate_series(999000001, 999000001 + 2 * :people) s
), valid AS (
	SELECT s::text || ((11 - w) % 11)::text AS nhs_number, row_number() OVER (ORDER BY s) AS n
	FROM stems WHERE (11 - w) % 11 <> 10
)
SELECT n::int AS n, 'p' || n AS local_id, nhs_number,
	   n % 10 = 1 AS eol_plan, n % 10 = 3 AS eol_record, n % 20 = 3 AS eol_record_key_worker,
	   n % 20 = 7 AS draft_plan, n % 3 <> 0 AS at_hospital, n % 4 = 0 AS at_council
FROM valid WHERE n <= :people;
SELECT bench.check(count(*) = :people, 'too few NHS numbers') FROM bench.person;

CREATE TABLE bench.known (source text, k int, n int, PRIMARY KEY (source, k));
INSERT INTO bench.known
SELECT 'gp_riverside', row_number() OVER (ORDER BY n), n FROM bench.person
UNION ALL SELECT 'hosp_riverside', row_number() OVER (ORDER BY n), n FROM bench.person WHERE at_hospital
UNION ALL SELECT 'council_riverside', row_number() OVER (ORDER BY n), n FROM bench.person WHERE at_council;

CREATE TABLE bench.person_batch AS
SELECT row_number() OVER (ORDER BY s.o, (k.k - 1) / 500) AS chunk, k.source,
	   jsonb_agg(jsonb_build_object('type', 'person', 'local_id', p.local_id, 'demographics',
				 jsonb_build_object('nhs_number', p.nhs_number, 'nhs_number_status', '01',
									'given_name', 'Given' || p.n, 'family_name', 'Family' || p.n,
									'birth_date', to_char(date '1935-01-01' + (p.n * 7919) % 30000, 'YYYY-MM-DD'),
									'sex', (ARRAY['female', 'male'])[1 + p.n % 2],
									'postcode', 'LS' || (1 + p.n % 9) || ' ' || (p.n % 10) || 'AB',
									'gp_practice', 'A81001')) ORDER BY k.k) AS messages
FROM bench.known k JOIN bench.person p USING (n)
JOIN (VALUES ('gp_riverside', 1), ('hosp_riverside', 2), ('council_riverside', 3)) s(source, o) USING (source)
GROUP BY s.o, k.source, (k.k - 1) / 500;

-- The entries.  what: the kind of message, which decides its source.
--   admission      hospital, encounter 32485007, in progress       2%
--   ae_attendance  hospital, encounter 50849002, finished          1.5%
--   safeguarding   GP or council (half each), kind alert,
--                  sensitivity V, category safeguarding            0.5%
--   ordinary       GP 56%, hospital 28%, council 12%: observations,
--                  medications, problems, allergies, procedures,
--                  documents, consultations (encounters with other
--                  codes), social care assessments
-- Each for a random person the source knows, at a random time in 2024.
-- event: the alert rule event it is (NULL for most).
CREATE TABLE bench.entry_src AS
WITH e AS (
	SELECT i, random() AS u, random() AS v, random() AS w FROM generate_series(1, :entries) i
), typed AS (
	SELECT i, v, w,
		   CASE WHEN u < 0.02 THEN 'admission' WHEN u < 0.035 THEN 'ae_attendance'
				WHEN u < 0.04 THEN 'safeguarding' ELSE 'ordinary' END AS what,
		   CASE WHEN u < 0.035 THEN 'hosp_riverside'
				WHEN u < 0.0375 THEN 'gp_riverside' WHEN u < 0.04 THEN 'council_riverside'
				WHEN u < 0.60 THEN 'gp_riverside' WHEN u < 0.88 THEN 'hosp_riverside'
				ELSE 'council_riverside' END AS source
	FROM e
), placed AS (
	SELECT t.i, t.what, t.source, k.n,
		   timestamptz '2024-01-01 00:00Z' + (t.w * 365) * interval '1 day' AS effective_start,
		   CASE t.what WHEN 'ordinary' THEN CASE t.source
				WHEN 'gp_riverside' THEN (ARRAY['observation', 'medication', 'problem', 'allergy', 'encounter'])[1 + t.i % 5]
				WHEN 'hosp_riverside' THEN (ARRAY['observation', 'procedure', 'document', 'encounter'])[1 + t.i % 4]
				ELSE 'social_care_assessment' END
			WHEN 'safeguarding' THEN 'alert' ELSE 'encounter' END AS kind
	FROM typed t
	JOIN LATERAL (SELECT count(*) AS c FROM bench.known k WHERE k.source = t.source) c ON true
	JOIN bench.known k ON k.source = t.source AND k.k = 1 + floor(t.v * c.c)::int
)
SELECT p.i, p.n, 'p' || p.n AS local_id, p.source, p.kind, k.fhir_resource_type, p.effective_start,
	   CASE p.what WHEN 'admission' THEN 'admission' WHEN 'ae_attendance' THEN 'ae_attendance'
				   WHEN 'safeguarding' THEN 'safeguarding_alert' END AS event,
	   CASE WHEN p.what = 'admission' THEN 'in-progress' WHEN p.kind IN ('encounter', 'procedure') THEN 'finished'
			WHEN p.kind = 'observation' THEN 'final' WHEN p.kind = 'document' THEN 'current'
			WHEN p.kind = 'social_care_assessment' THEN 'completed' ELSE 'active' END AS status,
	   CASE p.what WHEN 'admission' THEN '32485007' WHEN 'ae_attendance' THEN '50849002'
				   WHEN 'safeguarding' THEN NULL
				   ELSE CASE p.kind WHEN 'encounter' THEN '11429006' ELSE (100000 + p.i % 5000)::text END END AS code,
	   CASE p.what WHEN 'admission' THEN 'Hospital admission'
				   WHEN 'ae_attendance' THEN 'Emergency department attendance'
				   WHEN 'safeguarding' THEN 'Safeguarding concern'
				   ELSE CASE p.kind WHEN 'encounter' THEN 'Consultation'
						ELSE initcap(replace(p.kind, '_', ' ')) || ' ' || (100000 + p.i % 5000) END END AS display,
	   CASE WHEN p.what = 'safeguarding' THEN 'V' ELSE 'N' END AS sensitivity,
	   CASE WHEN p.what = 'safeguarding' THEN 'safeguarding' END AS sensitivity_category
FROM placed p JOIN scr.entry_kind k ON k.kind = p.kind;
SELECT bench.check(count(*) = :entries, 'the entries did not all get a patient') FROM bench.entry_src;

-- The batches: each source's entries in the order they happened, cut into
-- batches, the sources' batches taking turns (three feeds sending at once).
-- Stored uncompressed, so that reading one costs no decompression.
CREATE TABLE bench.batch (seq int PRIMARY KEY, source text NOT NULL, messages_n int NOT NULL,
						  events int NOT NULL, messages jsonb NOT NULL);
ALTER TABLE bench.batch ALTER COLUMN messages SET STORAGE EXTERNAL;
INSERT INTO bench.batch
WITH ordered AS (
	SELECT e.*, (row_number() OVER (PARTITION BY source ORDER BY effective_start, i) - 1) / :batch AS chunk
	FROM bench.entry_src e
), chunks AS (
	SELECT source, chunk, count(*) AS messages_n, count(event) AS events,
		   jsonb_agg(jsonb_build_object('type', 'entry', 'local_id', local_id, 'entry', jsonb_strip_nulls(jsonb_build_object(
				'kind', kind, 'source_ref', 'e' || i,
				'source_timestamp', to_char(effective_start + interval '2 hours', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
				'status', status, 'code_system', CASE WHEN code IS NOT NULL THEN 'http://snomed.info/sct' END,
				'code', code, 'display', display,
				'effective_start', to_char(effective_start, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
				'sensitivity', sensitivity, 'sensitivity_category', sensitivity_category,
				'payload', jsonb_build_object('resourceType', fhir_resource_type, 'code', jsonb_strip_nulls(jsonb_build_object(
					'coding', CASE WHEN code IS NOT NULL THEN jsonb_build_array(jsonb_build_object(
						'system', 'http://snomed.info/sct', 'code', code, 'display', display)) END,
					'text', display))))))
				ORDER BY effective_start, i) AS messages
	FROM ordered GROUP BY source, chunk
), placed AS (
	SELECT c.*, (c.chunk + 0.5) / count(*) OVER (PARTITION BY c.source) AS at FROM chunks c
)
SELECT row_number() OVER (ORDER BY at, source), source, messages_n, events, messages
FROM placed;

-- The professionals: the GP (R8000: may manage care plans), who makes the
-- End of Life plans and is their key worker, and a district nurse, key
-- worker of some records.
INSERT INTO scr.professional (professional_id, name) VALUES ('P100001', 'Dr Bench'), ('P100002', 'Nurse Bench');
INSERT INTO scr.role_profile (role_profile_id, professional_id, ods_code, job_role)
VALUES ('RP100001', 'P100001', 'A81001', 'R8000'), ('RP100002', 'P100002', 'A81001', 'R8001');
INSERT INTO scr.context_key (key_id, secret) VALUES ('bench', gen_random_uuid()::text::bytea);

GRANT USAGE ON SCHEMA bench TO scr_feed, scr_clinical_gateway;
GRANT SELECT ON bench.batch, bench.person_batch TO scr_feed;
GRANT INSERT ON bench.timing TO scr_feed;
SQL
# The people, 500 a statement as the feed login (GP first, then the
# hospital, then the council), with ANALYZE in between so that linkage
# does not plan against an empty record for the whole load.
while read -r chunk source; do
	bsql -c "SET ROLE $FEED" -c "SELECT bench.check(loaded = messages_n AND rejected = 0,
			 format('person batch %s (%s): %s loaded, %s rejected', $chunk, '$source', loaded, rejected))
		FROM (SELECT jsonb_array_length(messages) AS messages_n, r.*
			  FROM bench.person_batch b, scr.ingest_batch(b.source, b.messages) r WHERE b.chunk = $chunk) x" \
		-c "RESET ROLE" -c "ANALYZE" >/dev/null
done < <(bsql -F ' ' -c "SELECT chunk, source FROM bench.person_batch ORDER BY chunk")

# End of Life: the GP's plans through scr.create_care_plan, as the gateway
# login with a context the key signed (the active plans and the drafts);
# the records written directly (the rule reads only that a row exists, and
# its key worker).
bsql <<'SQL'
\o /dev/null
CREATE TABLE bench.patient AS
SELECT p.*, si.patient_id FROM bench.person p
JOIN scr.source_identifier si ON si.source_code = 'gp_riverside' AND si.local_id = p.local_id;
SELECT bench.check(count(DISTINCT b.patient_id) = :people AND count(*) = :people,
				   format('the people became %s patients, not %s', count(DISTINCT b.patient_id), :people))
FROM bench.patient b;
-- Every source's identifiers link to the GP's patient: one patient a person.
SELECT bench.check(count(si.patient_id) = count(*)
				   AND count(*) FILTER (WHERE scr.current_patient_id(si.patient_id) <> b.patient_id) = 0,
				   format('%s of %s identifiers are missing or linked to another patient',
						  count(*) - count(si.patient_id) + count(*) FILTER (WHERE scr.current_patient_id(si.patient_id) <> b.patient_id),
						  count(*)))
FROM bench.known k JOIN bench.patient b USING (n)
LEFT JOIN scr.source_identifier si ON si.source_code = k.source AND si.local_id = 'p' || k.n;
GRANT SELECT ON bench.patient TO scr_clinical_gateway;
SELECT scr.mint_context_token('bench', 'P100001', 'RP100001', 'A81001', 'TREAT', NULL, 600) AS token \gset
SET ROLE :gateway;
BEGIN;
SELECT scr.open_context(:'token');
SELECT count(scr.create_care_plan(patient_id, 'end_of_life', 'End of Life care',
								  key_worker => 'P100001', status => CASE WHEN eol_plan THEN 'active' ELSE 'draft' END))
FROM bench.patient WHERE eol_plan OR draft_plan;
COMMIT;
RESET ROLE;
INSERT INTO scr.end_of_life_record (patient_id, preferred_place_of_care, preferred_place_of_death, key_worker,
									ods_code, recorded_by)
SELECT patient_id, 'home', 'home', CASE WHEN eol_record_key_worker THEN 'P100002' END, 'A81001', 'P100001'
FROM bench.patient WHERE eol_record;
SELECT bench.check((SELECT count(*) FROM scr.care_plan WHERE category = 'end_of_life' AND status = 'active')
				   = (SELECT count(*) FROM bench.person WHERE eol_plan)
				   AND (SELECT count(*) FROM scr.care_plan WHERE category = 'end_of_life' AND status = 'draft')
					   = (SELECT count(*) FROM bench.person WHERE draft_plan),
				   'the End of Life plans were not all made');

-- What the rules must raise, from how the data was made (not from scr):
-- one alert per patient, event and recipient; every repeat folds into it.
--   admission, A&E of an End of Life patient (active plan or record): the
--     plan's key worker, the record's key worker, the practice
--   safeguarding alert: the council, when it knows the patient
CREATE TABLE bench.expected AS
WITH ev AS (
	SELECT e.n, e.event FROM bench.entry_src e WHERE e.event IS NOT NULL
), rcp AS (
	SELECT ev.n, ev.event, r.recipient
	FROM ev JOIN bench.person p USING (n)
	CROSS JOIN LATERAL (
		SELECT 'P100001' WHERE ev.event <> 'safeguarding_alert' AND p.eol_plan
		UNION ALL SELECT 'P100002' WHERE ev.event <> 'safeguarding_alert' AND p.eol_record_key_worker
		UNION ALL SELECT 'A81001' WHERE ev.event <> 'safeguarding_alert' AND (p.eol_plan OR p.eol_record)
		UNION ALL SELECT 'LA801' WHERE ev.event = 'safeguarding_alert' AND p.at_council) r(recipient)
)
SELECT (SELECT count(*) FROM (SELECT DISTINCT n, event, recipient FROM rcp) d) AS alerts,
	   (SELECT count(*) FROM rcp) AS occurrences,
	   (SELECT count(*) FROM ev) AS events,
	   (SELECT count(*) FROM ev WHERE event <> 'safeguarding_alert') AS encounters,
	   (SELECT count(*) FROM ev JOIN bench.person p USING (n)
		WHERE event <> 'safeguarding_alert' AND (p.eol_plan OR p.eol_record)) AS eol_encounters,
	   (SELECT count(*) FROM ev WHERE event = 'safeguarding_alert') AS safeguarding,
	   (SELECT count(*) FROM ev JOIN bench.person p USING (n)
		WHERE event = 'safeguarding_alert' AND p.at_council) AS council_safeguarding,
	   (SELECT count(*) FROM ev JOIN bench.person p USING (n)
		WHERE event <> 'safeguarding_alert' AND p.draft_plan) AS draft_encounters;
SELECT bench.check(alerts > 0 AND occurrences > alerts AND draft_encounters > 0,
				   'the data makes no alerts, none that fold, or no admission of a patient with a draft plan')
FROM bench.expected;
VACUUM ANALYZE;

-- The whole load goes through here, one transaction a batch (COMMIT), as
-- the feed login.  Round 0 is the warm-up, not recorded.
CREATE PROCEDURE bench.load(p_variant text, p_round int)
LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
	b record;
	r record;
BEGIN
	t0 := clock_timestamp();
	FOR b IN SELECT seq, source, messages_n FROM bench.batch ORDER BY seq LOOP
		SELECT x.* INTO r FROM bench.batch c, scr.ingest_batch(c.source, c.messages) x WHERE c.seq = b.seq;
		IF r.loaded <> b.messages_n OR r.rejected <> 0 THEN
			RAISE EXCEPTION 'alerting bench: batch % (%): % of % loaded, % rejected (see scr.feed_error)',
				b.seq, b.source, r.loaded, b.messages_n, r.rejected;
		END IF;
		COMMIT;
	END LOOP;
	IF p_round > 0 THEN
		INSERT INTO bench.timing VALUES ('alerting', p_variant, p_round, 1000 * extract(epoch FROM clock_timestamp() - t0));
	END IF;
	COMMIT;
END $$;
SQL

# --- alerting: the load with the alert rules on and off ------------------------
# Every side loads the same entries into an empty state: scr.entry, its
# history, the dead letters and the alerts emptied (TRUNCATE; the audit
# trail is append-only and keeps growing, on both sides alike).  Round 0 is
# one unrecorded warm-up load.  The sides take turns to go first.
say "alerting: $ENTRIES entries, alert rules on/off x $ROUNDS rounds, after a warm-up"
VARIANTS=("with_rules true" "without false")
side() {
	local variant=${1/_/ } on=$2 round=$3
	cat <<SQL
SELECT bench.alert_rules($on);
TRUNCATE scr.entry, scr.entry_history, scr.feed_error, scr.alert;
VACUUM ANALYZE scr.entry, scr.entry_history, scr.feed_error, scr.alert;
SELECT bench.touch('bench.batch');
CHECKPOINT;
SELECT bench.quiesce();
SET ROLE $FEED;
CALL bench.load('$variant', $round);
RESET ROLE;
SELECT bench.side_end('$variant', $round);
SQL
}
{
	echo '\o /dev/null'
	# shellcheck disable=SC2086
	side ${VARIANTS[0]} 0
	for ((r = 1; r <= ROUNDS; r++)); do
		for ((j = 0; j < 2; j++)); do
			# shellcheck disable=SC2086
			side ${VARIANTS[(r + j) % 2]} "$r"
		done
	done
	echo 'SELECT bench.alert_rules(true);'
} | bsql
# Each side stored every entry and rejected none; with the rules, exactly
# the expected alerts, each notified once, every repeat folded in; without
# them, none.
bsql -v rounds="$ROUNDS" <<'SQL'
\o /dev/null
SELECT bench.check(s.entries = :entries AND s.dead_letters = 0
				   AND s.alerts = CASE WHEN s.variant = 'with rules' THEN x.alerts ELSE 0 END
				   AND s.occurrences = CASE WHEN s.variant = 'with rules' THEN x.occurrences ELSE 0 END
				   AND s.notified = s.alerts,
				   format('%s, round %s: %s entries stored, %s dead letters, %s alerts (%s notified) of %s occurrences'
						  ' (expected %s entries, %s alerts of %s occurrences)',
						  s.variant, s.round, s.entries, s.dead_letters, s.alerts, s.notified, s.occurrences, :entries,
						  CASE WHEN s.variant = 'with rules' THEN x.alerts ELSE 0 END,
						  CASE WHEN s.variant = 'with rules' THEN x.occurrences ELSE 0 END))
FROM bench.side s, bench.expected x;
SELECT bench.check(count(*) = 2 * :'rounds'::int + 1, count(*) || ' sides checked') FROM bench.side;
SQL

# --- report ----------------------------------------------------------------------
save_timings alerting_timings.csv
echo
bsql <<'SQL'
SELECT bench.line('alerting', 'with rules', 'without', 'max', 1.2,
	format('(%s of the %s entries are rule events, %s of them with recipients)',
		   events, :entries, eol_encounters + council_safeguarding))
FROM bench.expected;
SELECT format('%-9s %-28s   %s  (each notified once; %s raisings, one per recipient of an event, folded into them.'
			  '  Events with recipients: %s of %s admissions and A&E attendances (End of Life patients),'
			  ' %s of %s safeguarding alerts (patients the council knows))',
			  'alerting:', 'alerts raised a load', x.alerts, x.occurrences, x.eol_encounters, x.encounters,
			  x.council_safeguarding, x.safeguarding)
FROM bench.expected x;
SQL
rounds_footer alerting_timings.csv
