-- scr.ingest_entry: provenance, idempotency, versions ordered by source
-- timestamp, late arrivals, entered-in-error, reading the record as it was.
SET search_path = public, scr;
SET datestyle = ISO;
SET timezone = 'UTC';
\set SHOW_CONTEXT never
SET scr.allow_test_nhs_numbers = on;

SET ROLE regress_feed_gp;
SELECT scr.ingest_person('gp_riverside', 'E1', '{"nhs_number": "999 000 0018",
    "given_name": "Eve", "family_name": "Evans", "birth_date": "1970-07-07"}') AS eve \gset
SELECT scr.ingest_entry('gp_riverside', 'E1', '{
    "kind": "problem", "source_ref": "cond-1", "source_timestamp": "2024-01-01T09:00:00Z",
    "status": "active", "code_system": "http://snomed.info/sct", "code": "44054006",
    "display": "Type 2 diabetes mellitus", "effective_start": "2023-12-20",
    "author": "Dr A Patel",
    "payload": {"resourceType": "Condition", "clinicalStatus": {"text": "active"}}}') AS cond \gset
-- The same message again changes nothing and returns the same entry.
SELECT scr.ingest_entry('gp_riverside', 'E1', '{
    "kind": "problem", "source_ref": "cond-1", "source_timestamp": "2024-01-01T09:00:00Z",
    "status": "active", "code_system": "http://snomed.info/sct", "code": "44054006",
    "display": "Type 2 diabetes mellitus", "effective_start": "2023-12-20",
    "author": "Dr A Patel",
    "payload": {"resourceType": "Condition", "clinicalStatus": {"text": "active"}}}') = :cond AS same_entry;
RESET ROLE;
SELECT patient_id = :eve AS for_eve, kind, code, display, status, effective_start, author,
       source_code, ods_code, source_ref, source_timestamp, sensitivity, payload, version
FROM scr.entry WHERE entry_id = :cond;
SELECT now() AS before_correction \gset

-- A correction (newer source timestamp) supersedes; the old version goes to history.
SET ROLE regress_feed_gp;
SELECT scr.ingest_entry('gp_riverside', 'E1', '{
    "kind": "problem", "source_ref": "cond-1", "source_timestamp": "2024-02-01T09:00:00Z",
    "status": "resolved", "code_system": "http://snomed.info/sct", "code": "44054006",
    "display": "Type 2 diabetes mellitus", "effective_start": "2023-12-20",
    "effective_end": "2024-01-31"}') = :cond AS same_entry;
-- An older version arriving late is kept in history and does not overwrite.
SELECT scr.ingest_entry('gp_riverside', 'E1', '{
    "kind": "problem", "source_ref": "cond-1", "source_timestamp": "2024-01-15T09:00:00Z",
    "status": "inactive"}') = :cond AS same_entry;
RESET ROLE;
SELECT status, source_timestamp, effective_end, version FROM scr.entry WHERE entry_id = :cond;
SELECT status, source_timestamp, version, late FROM scr.entry_history
WHERE entry_id = :cond ORDER BY entry_history_id;

-- The record as it stood before the correction, and now.
SELECT status, version FROM scr.entries_as_of(:eve, :'before_correction');
SELECT status, version FROM scr.entries_as_of(:eve, now());
SELECT count(*) AS entries_before_any FROM scr.entries_as_of(:eve, '2000-01-01');

-- The same timestamp with other content is refused: a source bug, not a version.
\set ON_ERROR_STOP 0
SET ROLE regress_feed_gp;
SELECT scr.ingest_entry('gp_riverside', 'E1', '{
    "kind": "problem", "source_ref": "cond-1", "source_timestamp": "2024-02-01T09:00:00Z",
    "status": "active"}');
RESET ROLE;
\set ON_ERROR_STOP 1

-- entered-in-error leaves the current record but stays in history.
SET ROLE regress_feed_gp;
SELECT scr.ingest_entry('gp_riverside', 'E1', '{
    "kind": "allergy", "source_ref": "alg-1", "source_timestamp": "2024-03-01T09:00:00Z",
    "status": "active", "display": "Penicillin allergy"}') AS allergy \gset
SELECT now() AS with_allergy \gset
SELECT scr.ingest_entry('gp_riverside', 'E1', '{
    "kind": "allergy", "source_ref": "alg-1", "source_timestamp": "2024-03-02T09:00:00Z",
    "status": "entered-in-error", "display": "Penicillin allergy"}') = :allergy AS same_entry;
RESET ROLE;
SELECT kind, status FROM scr.entries_as_of(:eve, now()) ORDER BY kind;
SELECT kind, status FROM scr.entries_as_of(:eve, :'with_allergy') ORDER BY kind;

-- Sensitivity label and category; every kind maps to its FHIR resource.
SET ROLE regress_feed_gp;
SELECT scr.ingest_entry('gp_riverside', 'E1', '{
    "kind": "observation", "source_ref": "obs-hiv", "source_timestamp": "2024-03-03T09:00:00Z",
    "status": "final", "display": "HIV test", "sensitivity": "v",
    "sensitivity_category": "HIV_STI", "organisation": "a81001"}') IS NOT NULL AS stored;
RESET ROLE;
SELECT sensitivity, sensitivity_category, ods_code, payload FROM scr.entry WHERE source_ref = 'obs-hiv';
SELECT kind, fhir_resource_type FROM scr.entry_kind ORDER BY kind;

-- Refusals.
SET ROLE regress_feed_gp;
SELECT refused(q) FROM (VALUES
    ($q$SELECT scr.ingest_entry('gp_riverside', 'nobody', '{"kind": "problem", "source_ref": "x", "source_timestamp": "2024-01-01", "status": "active"}')$q$),
    ($q$SELECT scr.ingest_entry('acute_pas', 'E1', '{"kind": "problem", "source_ref": "x", "source_timestamp": "2024-01-01", "status": "active"}')$q$),
    ($q$SELECT scr.ingest_entry('gp_riverside', 'E1', '{"source_ref": "x", "source_timestamp": "2024-01-01", "status": "active"}')$q$),
    ($q$SELECT scr.ingest_entry('gp_riverside', 'E1', '{"kind": "horoscope", "source_ref": "x", "source_timestamp": "2024-01-01", "status": "active"}')$q$),
    ($q$SELECT scr.ingest_entry('gp_riverside', 'E1', '{"kind": "problem", "source_timestamp": "2024-01-01", "status": "active"}')$q$),
    ($q$SELECT scr.ingest_entry('gp_riverside', 'E1', '{"kind": "problem", "source_ref": "x", "status": "active"}')$q$),
    ($q$SELECT scr.ingest_entry('gp_riverside', 'E1', '{"kind": "problem", "source_ref": "x", "source_timestamp": "2024-01-01"}')$q$),
    ($q$SELECT scr.ingest_entry('gp_riverside', 'E1', '{"kind": "problem", "source_ref": "x", "source_timestamp": "2024-01-01T10:00:00", "status": "active"}')$q$),
    ($q$SELECT scr.ingest_entry('gp_riverside', 'E1', '{"kind": "problem", "source_ref": "x", "source_timestamp": "2024-01-01T25:00:00Z", "status": "active"}')$q$),
    ($q$SELECT scr.ingest_entry('gp_riverside', 'E1', '{"kind": "problem", "source_ref": "x", "source_timestamp": "2099-01-01T10:00:00Z", "status": "active"}')$q$),
    ($q$SELECT scr.ingest_entry('gp_riverside', 'E1', '{"kind": "problem", "source_ref": "x", "source_timestamp": "2024-01-01", "status": "active", "effective_start": "2024-01-02", "effective_end": "2024-01-01"}')$q$),
    ($q$SELECT scr.ingest_entry('gp_riverside', 'E1', '{"kind": "problem", "source_ref": "x", "source_timestamp": "2024-01-01", "status": "active", "sensitivity": "X"}')$q$),
    ($q$SELECT scr.ingest_entry('gp_riverside', 'E1', '{"kind": "problem", "source_ref": "x", "source_timestamp": "2024-01-01", "status": "active", "sensitivity_category": "astrology"}')$q$),
    ($q$SELECT scr.ingest_entry('gp_riverside', 'E1', '{"kind": "problem", "source_ref": "x", "source_timestamp": "2024-01-01", "status": "active", "organisation": "ZZZ99"}')$q$),
    ($q$SELECT scr.ingest_entry('gp_riverside', 'E1', '{"kind": "problem", "source_ref": "x", "source_timestamp": "2024-01-01", "status": "active", "payload": [1]}')$q$),
    ($q$SELECT scr.ingest_entry('gp_riverside', 'E1', '{"kind": "problem", "source_ref": "x", "source_timestamp": "2024-01-01", "status": "active", "payload": {"resourceType": "Observation"}}')$q$),
    ($q$SELECT scr.ingest_entry('gp_riverside', 'E1', '{"kind": "problem", "source_ref": "x", "source_timestamp": "2024-01-01", "status": "active", "colour": "blue"}')$q$),
    ($q$SELECT scr.ingest_entry('gp_riverside', 'E1', NULL)$q$)
) AS t(q);
RESET ROLE;
SELECT count(*) AS nothing_half_written FROM scr.entry WHERE source_ref = 'x';

-- A source reference names one entry of one person.
SET ROLE regress_feed_gp;
SELECT scr.ingest_person('gp_riverside', 'E2', '{"given_name": "Other"}') IS NOT NULL AS other;
SELECT refused($q$SELECT scr.ingest_entry('gp_riverside', 'E2', '{"kind": "problem", "source_ref": "cond-1", "source_timestamp": "2025-01-01", "status": "active"}')$q$);
RESET ROLE;
