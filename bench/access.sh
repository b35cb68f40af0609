#!/usr/bin/env bash
# Bench: reading under scr's row-level security against the same filters
# written by hand on an unprotected copy.
#
#   count    count(*) over 1M entries of 100k patients as a clinician (job
#            role R8000) whose practice has relationships with a third of
#            them: through the policy on scr.entry, against the same filters
#            (relationships, kinds and sensitivity, consent directives,
#            sealed categories) written by hand in SQL on plain.entry, an
#            unprotected copy with the same indexes.  Target: policy <= 1.25x
#            hand-written.  Info: against the unfiltered scan; the first
#            statement after the connection acted for another professional
#            (the access cache is rebuilt).
#   fetch    one patient's 100 entries, newest first, through the clinician
#            view scr.clinical_entry against the same view over the
#            unprotected copy (plain.clinical_entry), and through scr.entry
#            directly against the same query on plain.entry, each repeated
#            to fill a timing.  Target: <= 1.5x, for both.  Info: the view
#            against plain.entry (the view's own planning charged too), the
#            view's shape without the policy, cached plans, cold.
#   parallel (info) count again with parallel workers allowed.
#
# The reads are done as a login in scr_clinical_gateway (superusers bypass
# row-level security) with a context opened by a signed token.  Every figure
# is a ratio of medians measured in this run: the variants of a phase run
# interleaved, in a rotating order, ROUNDS times after one warm-up, timed in
# the server with clock_timestamp().  Prints PASS or MISS per target; exits 0
# on a MISS (a bench is not a test), non-zero on errors.  The issue's third
# target, bench/ingest with the policies on, is reported by bench/ingest.sh.
#
# Needs a running server with scr installed and preloaded, given by
# PGHOST/PGPORT/PGUSER as a superuser (scripts/bench.sh provides one).
# Knobs: SCR_BENCH_ACCESS_ENTRIES (1000000), SCR_BENCH_ACCESS_PATIENTS
# (100000), SCR_BENCH_ACCESS_FETCH_MS (250: a fetch timing repeats its query
# for about this long), SCR_BENCH_ROUNDS (7), SCR_BENCH_ACCESS_DB
# (scr_bench_access), SCR_BENCH_KEEP=1 (keep the database and the login),
# SCR_BENCH_OUT (where the raw per-round timings go).
set -euo pipefail
source "$(dirname "$0")/lib.bash"

ENTRIES=${SCR_BENCH_ACCESS_ENTRIES:-1000000}
PATIENTS=${SCR_BENCH_ACCESS_PATIENTS:-100000}
FETCH_MS=${SCR_BENCH_ACCESS_FETCH_MS:-250}
ROUNDS=${SCR_BENCH_ROUNDS:-7}
DB=${SCR_BENCH_ACCESS_DB:-scr_bench_access}
LOGIN=scr_bench_access_gateway	# cluster-wide: two runs must not overlap on one server
for v in ENTRIES PATIENTS FETCH_MS ROUNDS; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "access: $v must be a positive integer" >&2; exit 1; }
done
if ((PATIENTS < 1000 || ENTRIES < 2 * PATIENTS)); then
	echo "access: need at least 1000 patients and two entries a patient" >&2
	exit 1
fi
mkdir -p "$OUT"

# No JIT and no parallel workers (bench/lib.bash), but the parallel phase
# allows them.  scr is on the search path.
PGOPTIONS+=" -c search_path=public,scr"
bsql() {
	psql -d "$DB" -v entries="$ENTRIES" -v patients="$PATIENTS" -v fetch_ms="$FETCH_MS" \
		-v rounds="$ROUNDS" -v login="$LOGIN" "$@"
}
# As the clinician: the gateway login (SET ROLE from the superuser session,
# so only the PG* variables are needed to connect), with a context opened
# from a fresh signed token for the whole session.  Read audit is off: this
# bench measures the access decision against hand-written filters, and
# bench/audit measures what auditing each read adds (a count over a third
# of the area audits every patient counted).
gsql() {
	{
		printf 'SET scr.audit_reads = off;\n'
		printf 'SET ROLE %s;\n' "$LOGIN"
		printf "SELECT scr.open_context(bench.next_token('clinician'), true) \\\\g /dev/null\n"
		cat
	} | bsql "$@"
}

bench_fresh_db "$DB" "$LOGIN"

echo "access bench: $ENTRIES entries over $PATIENTS patients, fetches repeated for ${FETCH_MS} ms a timing," \
	"median of $ROUNDS interleaved rounds; $(psql -d postgres -c "SHOW server_version") server," \
	"jit off, no parallel workers (but in the parallel phase)"

# --- harness: bench/lib.sql, and this bench's own helpers --------------------
bsql -v lib_sql="$BENCH_DIR/lib.sql" <<'SQL'
CREATE EXTENSION scr;
\i :lib_sql
CREATE SCHEMA plain;

-- Wider report columns than bench/lib.sql's: phase labels up to
-- 'parallel:', ratios up to 99999.99.
UPDATE bench.line_style SET label_width = 9, ratio_width = 7;

-- Run q n times (EXECUTE: parsed and planned every time, as a client's
-- statement is); the result rows are discarded.
CREATE FUNCTION bench.repeat(q text, n int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1 .. n LOOP
		EXECUTE q;
	END LOOP;
END $$;
SQL

# --- data: 100k patients, 1M entries, relationships --------------------------
# Written directly, set-based, as the superuser: this bench measures reading,
# not the feed.  setseed makes the data the same in every run.
say "building $PATIENTS patients and $ENTRIES entries"
bsql <<'SQL'
\o /dev/null
SET work_mem = '256MB';
SELECT setseed(0.2024);

-- Three practices (the clinician works at the first), a hospital, a mental
-- health trust, a sexual health clinic and a council.
INSERT INTO scr.organisation (ods_code, name, kind) VALUES
	('A81001', 'Riverside Practice', 'gp_practice'),
	('A81002', 'Hillside Practice', 'gp_practice'),
	('A81003', 'Canal Practice', 'gp_practice'),
	('RXX01', 'County Hospital', 'nhs_trust'),
	('RMH01', 'County Mental Health Trust', 'nhs_trust'),
	('RGU01', 'Sexual Health Clinic', 'nhs_trust'),
	('LA001', 'County Council', 'local_authority');
INSERT INTO scr.source_system (source_code, ods_code, kind) VALUES
	('gp_riverside', 'A81001', 'gp'), ('gp_hillside', 'A81002', 'gp'), ('gp_canal', 'A81003', 'gp'),
	('acute_pas', 'RXX01', 'acute'), ('mh_ehr', 'RMH01', 'mental_health'),
	('gum_clinic', 'RGU01', 'other'), ('council_care', 'LA001', 'social_care');

-- Patients, each registered at one of the practices, drawn at random.
INSERT INTO scr.patient (given_name, family_name, birth_date, sex, postcode, gp_practice)
SELECT 'Given' || g, 'Family' || (g % 5000), date '1930-01-01' + (random() * 32000)::int,
	   (ARRAY['female', 'male'])[1 + g % 2], 'AB1 ' || (g % 10) || 'CD',
	   (ARRAY['A81001', 'A81002', 'A81003'])[1 + floor(random() * 3)::int]
FROM generate_series(1, :patients) g;

-- The patient whose record is fetched: registered at the clinician's
-- practice, with exactly 100 entries (the others have ~10 each, at random).
CREATE TABLE bench.focus AS
SELECT min(patient_id) AS patient_id FROM scr.patient
WHERE gp_practice = 'A81001' AND patient_id > :patients / 2;
SELECT patient_id AS focus FROM bench.focus \gset

-- Entries: the source (the patient's practice 56%, hospital 30%, mental
-- health 6%, council 6.8%, sexual health clinic 1.2%), the kind by source,
-- and categories: R for mental health, substance misuse and the sealed
-- categories, V for safeguarding; sealed hiv_sti from the clinic, sealed
-- termination and IVF from the hospital, a few sealed from the practices.
CREATE TEMP TABLE draw AS
SELECT n, CASE WHEN n <= 100 THEN :focus ELSE 1 + floor(random() * (:patients - 1))::bigint END AS patient_id,
	   random() AS r_src, random() AS r_kind, random() AS r_sens, random() AS r_time,
	   floor(random() * 1e8)::int AS code
FROM generate_series(1, :entries) n;
UPDATE draw SET patient_id = patient_id + 1 WHERE n > 100 AND patient_id >= :focus;

CREATE TEMP TABLE draw_source AS
SELECT d.*, ss.source_code, ss.ods_code, ss.kind AS source_kind
FROM draw d
JOIN scr.patient p USING (patient_id)
JOIN scr.source_system ss ON ss.source_code =
	CASE WHEN d.r_src < 0.56 THEN CASE p.gp_practice WHEN 'A81001' THEN 'gp_riverside'
													 WHEN 'A81002' THEN 'gp_hillside' ELSE 'gp_canal' END
		 WHEN d.r_src < 0.86 THEN 'acute_pas'
		 WHEN d.r_src < 0.92 THEN 'mh_ehr'
		 WHEN d.r_src < 0.988 THEN 'council_care'
		 ELSE 'gum_clinic' END;

CREATE TEMP TABLE draw_content AS
SELECT d.*, k.kind, k.fhir_resource_type,
	   CASE k.kind WHEN 'observation' THEN 'final' WHEN 'encounter' THEN 'finished'
				   WHEN 'procedure' THEN 'completed' WHEN 'social_care_assessment' THEN 'completed'
				   WHEN 'document' THEN 'current' ELSE 'active' END AS status,
	   CASE WHEN d.source_kind = 'other' THEN CASE WHEN d.r_sens < 0.8 THEN 'hiv_sti' ELSE 'sexual_health' END
			WHEN d.source_kind = 'mental_health' AND d.r_sens < 0.5 THEN 'mental_health'
			WHEN d.r_sens < 0.015 THEN 'safeguarding'
			WHEN d.r_sens < 0.030 THEN 'mental_health'
			WHEN d.r_sens < 0.035 THEN 'substance_misuse'
			WHEN d.source_kind = 'acute' AND d.r_sens < 0.040 THEN 'termination'
			WHEN d.source_kind = 'acute' AND d.r_sens < 0.042 THEN 'ivf_fertility'
			WHEN d.source_kind = 'gp' AND d.r_sens < 0.037 THEN 'termination'
	   END AS category,
	   timestamptz '2014-01-01 00:00Z' + d.r_time * interval '3650 days' AS effective_start
FROM draw_source d
JOIN scr.entry_kind k ON k.kind =
	CASE WHEN d.source_kind = 'social_care' THEN
			 CASE WHEN d.r_kind < 0.5 THEN 'social_care_assessment' WHEN d.r_kind < 0.8 THEN 'care_plan'
				  WHEN d.r_kind < 0.95 THEN 'encounter' ELSE 'alert' END
		 WHEN d.source_kind = 'other' THEN CASE WHEN d.r_kind < 0.6 THEN 'observation' ELSE 'encounter' END
		 ELSE CASE WHEN d.r_kind < 0.34 THEN 'observation' WHEN d.r_kind < 0.54 THEN 'medication'
				   WHEN d.r_kind < 0.70 THEN 'encounter' WHEN d.r_kind < 0.79 THEN 'problem'
				   WHEN d.r_kind < 0.87 THEN 'document' WHEN d.r_kind < 0.92 THEN 'procedure'
				   WHEN d.r_kind < 0.95 THEN 'allergy' WHEN d.r_kind < 0.97 THEN 'alert'
				   WHEN d.r_kind < 0.99 THEN 'care_plan' ELSE 'end_of_life' END
	END;

-- In the order they happened, as feeds would have sent them: a patient's
-- entries are spread over the table.  The payload has the synthetic area's
-- shape (test/synthetic/generate.sql).
INSERT INTO scr.entry (patient_id, kind, code_system, code, display, status, effective_start,
					   author, source_code, ods_code, source_ref, source_timestamp,
					   sensitivity, sensitivity_category, payload)
SELECT patient_id, kind, 'http://snomed.info/sct', code::text, display, status, effective_start,
	   'Dr ' || (code % 200), source_code, ods_code, 'e' || n, effective_start + interval '2 hours',
	   CASE WHEN category = 'safeguarding' THEN 'V' WHEN category IS NOT NULL THEN 'R' ELSE 'N' END::"char",
	   category,
	   jsonb_build_object('resourceType', fhir_resource_type,
						  'code', jsonb_build_object('coding', jsonb_build_array(jsonb_build_object(
							  'system', 'http://snomed.info/sct', 'code', code::text, 'display', display))))
FROM (SELECT *, initcap(replace(kind, '_', ' ')) || ' ' || code AS display FROM draw_content) c
ORDER BY effective_start;
DROP TABLE draw, draw_source, draw_content;

-- Relationships, as the feeds make them: every patient registered at their
-- practice; every other organisation that sent an entry about a patient,
-- by referral; and some former registrations at the clinician's practice,
-- ended years ago.  The clinician's practice is related now to a third.
INSERT INTO scr.relationship (patient_id, ods_code, kind, valid_from)
SELECT patient_id, gp_practice, 'registration', timestamptz '2010-01-01 00:00Z' + (patient_id % 1000) * interval '1 day'
FROM scr.patient;
INSERT INTO scr.relationship (patient_id, ods_code, kind, valid_from)
SELECT DISTINCT e.patient_id, e.ods_code, 'referral', timestamptz '2012-01-01 00:00Z'
FROM scr.entry e JOIN scr.patient p USING (patient_id)
WHERE e.ods_code <> p.gp_practice;
INSERT INTO scr.relationship (patient_id, ods_code, kind, valid_from, valid_to)
SELECT patient_id, 'A81001', 'registration', timestamptz '2005-01-01 00:00Z', timestamptz '2009-12-31 00:00Z'
FROM scr.patient WHERE gp_practice <> 'A81001' AND patient_id % 50 = 7;

-- The clinician (a doctor at the practice: R8000) and, for the cold
-- measurements, a doctor at another practice who used the connection before.
INSERT INTO scr.professional (professional_id, name) VALUES
	('P100001', 'Dr Bench'), ('P100002', 'Dr Before');
INSERT INTO scr.role_profile (role_profile_id, professional_id, ods_code, job_role) VALUES
	('RP100001', 'P100001', 'A81001', 'R8000'), ('RP100002', 'P100002', 'A81002', 'R8000');
INSERT INTO scr.context_key (key_id, secret) VALUES ('bench', gen_random_uuid()::text::bytea);

-- Consent directives, for about 2% of the patients: dissent (content hidden
-- from everyone), a denial of the mental health category, permission for
-- the clinician's practice to see sexual health results (unsealing hiv_sti
-- for it), and permission to view for the clinician (a relationship by
-- consent) for some patients of the other practices.
INSERT INTO scr.consent_directive (patient_id, provision, actor_professional, actor_ods,
								   sensitivity_category, valid_from, recorded_by)
SELECT p.patient_id, v.provision, v.actor_professional, v.actor_ods, v.category,
	   timestamptz '2020-01-01 00:00Z', 'bench'
FROM scr.patient p
JOIN (VALUES (337, 0, 'deny', NULL, NULL, NULL),
			 (211, 5, 'deny', NULL, NULL, 'mental_health'),
			 (97, 3, 'permit', NULL, 'A81001', 'hiv_sti'),
			 (499, 11, 'permit', 'P100001', NULL, NULL))
	 v(modulus, remainder, provision, actor_professional, actor_ods, category)
  ON p.patient_id % v.modulus = v.remainder
 AND (v.actor_professional IS NULL OR p.gp_practice <> 'A81001');

-- The gateway login: not a superuser, a member of scr_clinical_gateway.
SELECT format('CREATE ROLE %I LOGIN IN ROLE scr_clinical_gateway', :'login')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'login') \gexec
SELECT bench.check(NOT rolsuper AND NOT rolbypassrls AND pg_has_role(oid, 'scr_clinical_gateway', 'MEMBER'),
				   'the gateway login is a superuser, bypasses RLS or is not in scr_clinical_gateway')
FROM pg_roles WHERE rolname = :'login';

-- Signed tokens, minted now: each opens one context (a nonce is accepted
-- once).  The gateway takes them in turn.
CREATE TABLE bench.token (n int GENERATED ALWAYS AS IDENTITY, who text NOT NULL, token text NOT NULL);
INSERT INTO bench.token (who, token)
SELECT w.who, scr.mint_context_token('bench', w.professional, w.role_profile, w.ods, 'TREAT', NULL, 3600)
FROM (VALUES ('clinician', 'P100001', 'RP100001', 'A81001'),
			 ('before', 'P100002', 'RP100002', 'A81002')) w(who, professional, role_profile, ods),
	 generate_series(1, 4 * :rounds + 40);
CREATE FUNCTION bench.next_token(w text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	t text;
BEGIN
	DELETE FROM bench.token WHERE n = (SELECT min(n) FROM bench.token WHERE who = w) RETURNING token INTO t;
	PERFORM bench.check(t IS NOT NULL, 'out of tokens for ' || w);
	RETURN t;
END $$;

-- Cold: the connection acted for another professional (who read, so that
-- the access cache is theirs), then for the clinician again.  The next
-- statement that reads under the policy rebuilds the clinician's cache, as
-- the first statement of a transaction does behind a transaction pooler
-- that serves many professionals.
CREATE FUNCTION bench.after_another_professional() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM scr.open_context(bench.next_token('before'), true);
	PERFORM bench.check(scr.may_read_patient(patient_id) IS NOT NULL, 'no access decision')
	FROM bench.focus;
	PERFORM scr.open_context(bench.next_token('clinician'), true);
END $$;

-- The unprotected copies: the same rows in the same physical order, the
-- same indexes; no row-level security.  The relationships and consent
-- directives are copied for the hand-written filter, the patients for the
-- clinician view's shape without the policy.
CREATE TABLE plain.entry AS SELECT * FROM scr.entry ORDER BY entry_id;
ALTER TABLE plain.entry ADD PRIMARY KEY (patient_id, entry_id), ADD UNIQUE (source_code, source_ref);
CREATE INDEX entry_patient_kind_idx ON plain.entry (patient_id, kind, effective_start DESC);
CREATE TABLE plain.relationship AS SELECT * FROM scr.relationship ORDER BY relationship_id;
ALTER TABLE plain.relationship ADD PRIMARY KEY (patient_id, relationship_id);
CREATE INDEX relationship_professional_idx ON plain.relationship (professional_id, patient_id)
	WHERE professional_id IS NOT NULL;
CREATE INDEX relationship_organisation_idx ON plain.relationship (ods_code, patient_id)
	WHERE ods_code IS NOT NULL;
CREATE TABLE plain.consent_directive AS SELECT * FROM scr.consent_directive ORDER BY directive_id;
ALTER TABLE plain.consent_directive ADD PRIMARY KEY (patient_id, directive_id);
CREATE INDEX consent_directive_actor_idx ON plain.consent_directive (actor_professional, actor_ods)
	WHERE status = 'active';
CREATE TABLE plain.patient AS SELECT * FROM scr.patient ORDER BY patient_id;
ALTER TABLE plain.patient ADD PRIMARY KEY (patient_id);
CREATE INDEX patient_merged_into_idx ON plain.patient (merged_into) WHERE merged_into IS NOT NULL;
-- scr.clinical_entry's definition, over the copies.
SET search_path = pg_catalog;
SELECT format('CREATE VIEW plain.clinical_entry AS %s',
			  regexp_replace(pg_get_viewdef('scr.clinical_entry'::regclass), '\mscr\.(entry|patient)\M', 'plain.\1', 'g'))
\gexec
RESET search_path;
SELECT bench.check(pg_get_viewdef('plain.clinical_entry'::regclass) !~ '\mscr\.(entry|patient)\M',
				   'plain.clinical_entry still reads a protected table');

GRANT USAGE ON SCHEMA bench, plain TO scr_clinical_gateway;
GRANT SELECT ON ALL TABLES IN SCHEMA plain TO scr_clinical_gateway;
GRANT SELECT ON bench.focus TO scr_clinical_gateway;
GRANT SELECT, DELETE ON bench.token TO scr_clinical_gateway;
GRANT INSERT ON bench.timing TO scr_clinical_gateway;

-- Hint bits and the visibility map set now, not during a timed scan.
VACUUM (FREEZE, ANALYZE) scr.patient, scr.entry, scr.relationship, scr.consent_directive,
	plain.entry, plain.relationship, plain.consent_directive, plain.patient;
SQL

# --- the queries ---------------------------------------------------------------
# hand-written: what a DBA would write on unprotected tables for this
# clinician, with the clinician's identifiers as constants: the patients
# related now to the professional or the practice, or who permitted them to
# view; the kinds R8000's activities allow (all eleven, up to R); no entry a
# consent directive denies to everyone or to them for direct care; sealed
# categories only from the practice or where the patient unsealed them for
# it.  (The data has no merged patients and no break-glass grants.)
FOCUS=$(bsql -c "SELECT patient_id FROM bench.focus")
Q_POLICY="SELECT count(*) FROM scr.entry"
Q_HAND="SELECT count(*) FROM plain.entry e
WHERE e.patient_id IN (SELECT r.patient_id FROM plain.relationship r
                       WHERE (r.professional_id = 'P100001' OR r.ods_code = 'A81001')
                         AND r.valid_from <= statement_timestamp()
                         AND (r.valid_to IS NULL OR r.valid_to > statement_timestamp())
                       UNION ALL
                       SELECT d.patient_id FROM plain.consent_directive d
                       WHERE d.provision = 'permit' AND d.status = 'active'
                         AND (d.actor_professional = 'P100001' OR d.actor_ods = 'A81001')
                         AND d.entry_kind IS NULL AND d.sensitivity_category IS NULL
                         AND d.valid_from <= statement_timestamp()
                         AND (d.valid_to IS NULL OR d.valid_to > statement_timestamp()))
  AND e.kind IN ('alert', 'allergy', 'care_plan', 'document', 'encounter', 'end_of_life', 'medication',
                 'observation', 'problem', 'procedure', 'social_care_assessment')
  AND e.sensitivity <= 'R'
  AND NOT EXISTS (SELECT FROM plain.consent_directive d
                  WHERE d.patient_id = e.patient_id AND d.provision = 'deny' AND d.status = 'active'
                    AND ((d.actor_professional IS NULL AND d.actor_ods IS NULL)
                         OR d.actor_professional = 'P100001' OR d.actor_ods = 'A81001')
                    AND (d.purpose IS NULL OR d.purpose = 'TREAT')
                    AND (d.entry_kind IS NULL OR d.entry_kind = e.kind)
                    AND (d.sensitivity_category IS NULL OR d.sensitivity_category = e.sensitivity_category)
                    AND d.valid_from <= statement_timestamp()
                    AND (d.valid_to IS NULL OR d.valid_to > statement_timestamp()))
  AND (e.sensitivity_category IS NULL
       OR e.sensitivity_category NOT IN ('gender_reassignment', 'hiv_sti', 'ivf_fertility', 'termination')
       OR e.ods_code = 'A81001'
       OR EXISTS (SELECT FROM plain.consent_directive d
                  WHERE d.patient_id = e.patient_id AND d.provision = 'permit' AND d.status = 'active'
                    AND (d.actor_professional = 'P100001' OR d.actor_ods = 'A81001')
                    AND d.sensitivity_category = e.sensitivity_category
                    AND d.valid_from <= statement_timestamp()
                    AND (d.valid_to IS NULL OR d.valid_to > statement_timestamp())))"
Q_SCAN="SELECT count(*) FROM plain.entry"
FETCH_TAIL="WHERE patient_id = $FOCUS ORDER BY effective_start DESC"
qv=(-v q_policy="$Q_POLICY" -v q_hand="$Q_HAND" -v q_scan="$Q_SCAN" -v focus="$FOCUS"
	-v q_fetch_view="SELECT * FROM scr.clinical_entry $FETCH_TAIL"
	-v q_fetch_policy="SELECT * FROM scr.entry $FETCH_TAIL"
	-v q_fetch_plain_view="SELECT * FROM plain.clinical_entry $FETCH_TAIL"
	-v q_fetch_plain="SELECT * FROM plain.entry $FETCH_TAIL")

# The hand-written count with its best plan: hash joins over one scan of
# the entries.  Left to itself the planner prefers, on this data, an index
# nested loop over the related patients that takes about twice as long (the
# 'hand (planner)' info line); the policy's cache queries must keep nested
# loops, so the setting is the function's own.
# The fetches with cached plans (a PL/pgSQL loop of static SQL), for the info
# line: how much of the policy's cost is planning.
bsql "${qv[@]}" <<'SQL'
SELECT format('CREATE FUNCTION bench.count_hand() RETURNS bigint LANGUAGE sql STABLE
			   SET enable_nestloop = off AS %L', :'q_hand') \gexec
CREATE FUNCTION bench.fetch_policy_cached(pid bigint, n int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1 .. n LOOP
		PERFORM * FROM scr.entry WHERE patient_id = pid ORDER BY effective_start DESC;
	END LOOP;
END $$;
CREATE FUNCTION bench.fetch_plain_cached(pid bigint, n int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1 .. n LOOP
		PERFORM * FROM plain.entry WHERE patient_id = pid ORDER BY effective_start DESC;
	END LOOP;
END $$;
-- How many times to repeat q so that one timing takes about ms.
CREATE FUNCTION bench.reps(q text, ms float8) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	t float8;
BEGIN
	PERFORM bench.time_ms(q);
	t := bench.time_ms(q);
	RETURN least(100000, greatest(1, ceil(ms / greatest(t, 0.001))))::int;
END $$;
SQL

# --- checks: the policy is in force and gives the hand-written rows ----------
checks=$(gsql -F ' ' "${qv[@]}" <<'SQL'
SELECT bench.check(current_user = :'login'
				   AND NOT (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user),
				   'not reading as the gateway login') \g /dev/null
SELECT (SELECT count(*) FROM plain.entry),
	   (SELECT count(DISTINCT patient_id) FROM plain.relationship
		WHERE ods_code = 'A81001' AND valid_to IS NULL),
	   (SELECT count(*) FROM plain.consent_directive),
	   (:q_policy), (:q_hand),
	   (SELECT count(*) FROM scr.clinical_entry WHERE patient_id = :focus),
	   (SELECT count(*) FROM scr.entry WHERE patient_id = :focus),
	   (SELECT count(*) FROM plain.entry WHERE patient_id = :focus);
SQL
)
read -r total related directives n_policy n_hand n_view n_fetch_policy n_fetch_plain <<<"$checks"
for v in total related directives n_policy n_hand n_view n_fetch_policy n_fetch_plain; do
	[[ ${!v} =~ ^[0-9]+$ ]] || { echo "access: the checks returned \"$checks\"" >&2; exit 1; }
done
# Without a context the gateway sees nothing: the policy is what filters.
n_no_context=$(bsql -c "SET ROLE $LOGIN" -c "SELECT count(*) FROM scr.entry")
if [ "$n_policy" != "$n_hand" ] || [ "$n_policy" -le 0 ] || [ "$n_policy" -ge "$total" ] \
	|| [ "$n_no_context" != 0 ] || [ "$n_fetch_plain" != 100 ] || [ "$n_fetch_policy" -le 0 ] \
	|| [ "$n_view" != "$n_fetch_policy" ]; then
	echo "access: the policy and the hand-written filters disagree, or the data is not as built:" \
		"count: policy $n_policy, hand-written $n_hand, of $total, without a context $n_no_context;" \
		"fetch: view $n_view, policy $n_fetch_policy, of $n_fetch_plain" >&2
	exit 1
fi
say "the clinician's practice is related to $related of $PATIENTS patients, $directives consent directives;" \
	"policy and hand-written both count $n_policy of $total entries;" \
	"the fetched patient shows $n_fetch_policy of $n_fetch_plain entries"

# --- count ---------------------------------------------------------------------
say "count: $total entries x 5 variants x $ROUNDS rounds"
gsql "${qv[@]}" <<'SQL'
\o /dev/null
-- A full scan of each entry table; the unfiltered count must not be an
-- index-only scan (nothing else can be).
SET enable_indexonlyscan = off;
SELECT bench.require_plan(:'q_policy', ARRAY['Seq Scan on entry', 'may_read_entry'], 'Index|Gather', true);
SET enable_nestloop = off;
SELECT bench.require_plan(:'q_hand', ARRAY['(Seq Scan|Bitmap Heap Scan) on entry e', 'Hash'],
						  'Nested Loop|Index Scan using entry|Gather|may_read', true);
RESET enable_nestloop;
SELECT bench.require_plan(:'q_scan', ARRAY['Seq Scan on entry'], 'Index|Gather|Filter', true);
SELECT bench.measure('count',
	ARRAY['policy', 'hand-written', 'unfiltered', 'policy cold', 'hand (planner)'],
	ARRAY[:'q_policy', 'SELECT bench.count_hand()', :'q_scan', :'q_policy', :'q_hand'],
	:rounds, NULL, ARRAY[NULL, NULL, NULL, 'SELECT bench.after_another_professional()', NULL]);
SQL
hand_plan=$(gsql "${qv[@]}" <<'SQL'
SELECT CASE WHEN p ~ 'Nested Loop' THEN 'nested loop' ELSE 'hash joins' END ||
	   CASE WHEN p ~ 'Index Scan using \S+ on entry' THEN ' over an index on entry' ELSE ' over one scan of entry' END
FROM bench.plan(:'q_hand', false) p;
SQL
)

# --- fetch ---------------------------------------------------------------------
say "fetch: one patient's entries, 7 variants x $ROUNDS rounds, each repeated for about $FETCH_MS ms"
view_scan=$(gsql "${qv[@]}" <<'SQL'
-- scr.entry and plain.entry through an index scan of a btree that leads
-- with patient_id (the primary key or (patient_id, kind, effective_start);
-- the planner picks either, on each side's statistics, and they cost the
-- same here), then a sort; the policy filters the rows the index finds.
-- Bitmap scans are off: one side's statistics may favour one and the
-- other's not.  The views are timed with whatever plan they get (reported).
SET enable_bitmapscan = off;
SELECT bench.require_plan(:'q_fetch_policy',
	ARRAY['Sort', 'Index Scan using entry_(pkey|patient_kind_idx) on entry', 'Index Cond: \(patient_id = ', 'may_read_entry'],
	'Seq Scan|Bitmap', true) \g /dev/null
SELECT bench.require_plan(:'q_fetch_plain',
	ARRAY['Sort', 'Index Scan using entry_(pkey|patient_kind_idx) on entry', 'Index Cond: \(patient_id = '],
	'Seq Scan|Bitmap|may_read', true) \g /dev/null
SELECT bench.require_plan(:'q_fetch_view', ARRAY['may_read_entry'], NULL, false) \g /dev/null
SELECT coalesce(substring(bench.plan(:'q_fetch_view', false) from '((Seq|Index|Index Only|Bitmap Heap) Scan( using \S+)? on entry)'), '?');
SELECT bench.reps(:'q_fetch_view', :fetch_ms) AS n_view, bench.reps(:'q_fetch_policy', :fetch_ms) AS n_policy,
	   bench.reps(:'q_fetch_plain_view', :fetch_ms) AS n_plain_view, bench.reps(:'q_fetch_plain', :fetch_ms) AS n_plain
\gset
SELECT bench.measure('fetch',
	ARRAY['view', 'policy', 'plain view', 'plain', 'policy cached', 'plain cached', 'policy cold'],
	ARRAY[format('SELECT bench.repeat(%L, %s)', :'q_fetch_view', :n_view),
		  format('SELECT bench.repeat(%L, %s)', :'q_fetch_policy', :n_policy),
		  format('SELECT bench.repeat(%L, %s)', :'q_fetch_plain_view', :n_plain_view),
		  format('SELECT bench.repeat(%L, %s)', :'q_fetch_plain', :n_plain),
		  format('SELECT bench.fetch_policy_cached(%s, %s)', :focus, :n_policy),
		  format('SELECT bench.fetch_plain_cached(%s, %s)', :focus, :n_plain),
		  :'q_fetch_policy'],
	:rounds, ARRAY[:n_view, :n_policy, :n_plain_view, :n_plain, :n_policy, :n_plain, 1],
	ARRAY[NULL, NULL, NULL, NULL, NULL, NULL, 'SELECT bench.after_another_professional()']) \g /dev/null
SQL
)

# --- parallel (info) -----------------------------------------------------------
say "parallel: count again with up to 2 parallel workers, 3 variants x $ROUNDS rounds"
parallel_plan=$(gsql "${qv[@]}" <<'SQL'
SET max_parallel_workers_per_gather = 2;
SET enable_indexonlyscan = off;
SELECT bench.require_plan(:'q_policy', ARRAY['Seq Scan on entry', 'may_read_entry'], 'Index', true) \g /dev/null
SET enable_nestloop = off;
SELECT CASE WHEN bench.plan(:'q_hand', true) ~ 'Workers Launched: [1-9]' THEN 'parallel' ELSE 'serial' END;
RESET enable_nestloop;
SELECT bench.measure('parallel',
	ARRAY['policy', 'hand-written', 'unfiltered'],
	ARRAY[:'q_policy', 'SELECT bench.count_hand()', :'q_scan'],
	:rounds) \g /dev/null
SQL
)

# --- report ----------------------------------------------------------------------
save_timings access_timings.csv
echo
bsql -v parallel_plan="$parallel_plan" -v view_scan="$view_scan" -v hand_plan="$hand_plan" <<'SQL'
SELECT bench.line('count', 'policy', 'hand-written', 'max', 1.25);
SELECT bench.line('count', 'policy', 'unfiltered', 'info', NULL, '(a PL/pgSQL policy function: 115x)');
SELECT bench.line('count', 'hand-written', 'unfiltered', 'info', NULL);
SELECT bench.line('count', 'policy cold', 'policy', 'info', NULL, '(after another professional: cache rebuilt)');
SELECT bench.line('count', 'hand (planner)', 'hand-written', 'info', NULL, format('(the planner''s choice: %s)', :'hand_plan'));
SELECT bench.line('fetch', 'view', 'plain view', 'max', 1.5, format('(scr.clinical_entry: %s; the same view unprotected)', :'view_scan'));
SELECT bench.line('fetch', 'policy', 'plain', 'max', 1.5, '(scr.entry directly)');
SELECT bench.line('fetch', 'view', 'plain', 'info', NULL, '(the view against the bare table: its planning too)');
SELECT bench.line('fetch', 'plain view', 'plain', 'info', NULL, '(the view''s shape, no policy)');
SELECT bench.line('fetch', 'policy cached', 'plain cached', 'info', NULL, '(plans cached: execution only)');
SELECT bench.line('fetch', 'policy cold', 'policy', 'info', NULL, '(after another professional: cache rebuilt)');
SELECT bench.line('fetch', 'policy cold', 'plain', 'info', NULL);
SELECT bench.line('parallel', 'policy', 'hand-written', 'info', NULL,
				  format('(hand-written plan: %s; the policy runs in the leader)', :'parallel_plan'));
SELECT bench.line('parallel', 'policy', 'unfiltered', 'info', NULL);
SQL
rounds_footer access_timings.csv
