-- Merging and unmerging patients (HL7 A40 shape): idempotent, inverse-safe,
-- cycle-safe, logged and reversible.  Rows never move: a merged patient's
-- identifiers and entries stay where they are and are read through the
-- survivor.
SET search_path = public, scr;
SET datestyle = ISO;
\set SHOW_CONTEXT never

SET ROLE regress_feed_acute;
SELECT scr.ingest_person('acute_pas', 'M1', '{"given_name": "Mo", "family_name": "Khan", "birth_date": "1991-06-15", "postcode": "LS1 1AA"}') AS m1 \gset
SELECT scr.ingest_person('acute_pas', 'M2', '{"given_name": "Mohammed", "family_name": "Khan", "birth_date": "1990-01-01", "postcode": "LS6 2BB"}') AS m2 \gset
SELECT scr.ingest_person('acute_pas', 'M3', '{"given_name": "Mohammed", "family_name": "Khan"}') AS m3 \gset
SELECT scr.ingest_entry('acute_pas', 'M1', '{"kind": "encounter", "source_ref": "m-enc-1", "source_timestamp": "2024-01-01", "status": "finished"}') IS NOT NULL AS m1_entry;
SELECT scr.ingest_entry('acute_pas', 'M2', '{"kind": "encounter", "source_ref": "m-enc-2", "source_timestamp": "2024-02-01", "status": "finished"}') IS NOT NULL AS m2_entry;

-- M1 is the same person as M2: M1's patient merges into M2's.
SELECT scr.merge_patients('acute_pas', 'M1', 'M2') = :m2 AS survivor_is_m2;
-- The same merge again, and the inverse merge, change nothing.
SELECT scr.merge_patients('acute_pas', 'M1', 'M2') = :m2 AS again;
SELECT scr.merge_patients('acute_pas', 'M2', 'M1') = :m2 AS inverse;
RESET ROLE;
SELECT patient_id = :m1 AS is_m1, merged_into = :m2 AS into_m2 FROM scr.patient WHERE patient_id = :m1;
-- (Only the source merges: they name both local ids; linkage's name one.)
SELECT count(*) AS merges_logged FROM scr.patient_merge WHERE unmerged_at IS NULL AND from_local_id IS NOT NULL AND to_local_id IS NOT NULL;
-- The survivor's record now includes M1's entry; its golden record the
-- most recent postcode.
SELECT source_ref FROM scr.entries_as_of(:m2, now()) ORDER BY source_ref;
SELECT scr.current_patient_id(:m1) = :m2 AS m1_reads_as_m2;
SELECT given_name, postcode FROM scr.patient WHERE patient_id = :m2;

-- Merging the survivor onward keeps every pointer one hop from a survivor.
SET ROLE regress_feed_acute;
SELECT scr.merge_patients('acute_pas', 'M2', 'M3') = :m3 AS survivor_is_m3;
RESET ROLE;
SELECT patient_id = :m1 AS is_m1, merged_into = :m3 AS into_m3 FROM scr.patient
WHERE patient_id IN (:m1, :m2) ORDER BY patient_id;
SELECT source_ref FROM scr.entries_as_of(:m3, now()) ORDER BY source_ref;
-- A merge that would close a cycle is a no-op: they are already one.
SET ROLE regress_feed_acute;
SELECT scr.merge_patients('acute_pas', 'M3', 'M1') = :m3 AS no_cycle;
RESET ROLE;
SELECT count(*) AS self_or_chained FROM scr.patient p
WHERE p.merged_into = p.patient_id
   OR EXISTS (SELECT FROM scr.patient q WHERE q.patient_id = p.merged_into AND q.merged_into IS NOT NULL);

-- Unmerge M2 from M3: M2 is its own patient again, and M1 (merged into M2
-- before) comes back to M2.
SET ROLE regress_feed_acute;
SELECT scr.unmerge_patients('acute_pas', 'M2') = :m2 AS unmerged;
RESET ROLE;
SELECT (patient_id = :m1) AS is_m1, merged_into = :m2 AS into_m2, merged_into IS NULL AS survivor
FROM scr.patient WHERE patient_id IN (:m1, :m2) ORDER BY patient_id;
SELECT source_ref FROM scr.entries_as_of(:m2, now()) ORDER BY source_ref;
SELECT count(*) AS m3_entries FROM scr.entries_as_of(:m3, now());
-- Read as of a past moment, the record follows the merges in effect then:
-- before any merge M1's entry was M1's alone; while merged, asking for any
-- member gives the survivor's whole record.
SELECT merged_at AS first_merge FROM scr.patient_merge WHERE from_local_id IS NOT NULL AND to_local_id IS NOT NULL ORDER BY merge_id LIMIT 1 \gset
SELECT merged_at AS second_merge, unmerged_at AS second_unmerge FROM scr.patient_merge WHERE from_local_id IS NOT NULL AND to_local_id IS NOT NULL ORDER BY merge_id OFFSET 1 LIMIT 1 \gset
SELECT string_agg(source_ref, ', ' ORDER BY source_ref) AS m2_before_merges
FROM scr.entries_as_of(:m2, :'first_merge'::timestamptz - interval '1 microsecond');
SELECT string_agg(source_ref, ', ' ORDER BY source_ref) AS m1_while_merged_into_m3
FROM scr.entries_as_of(:m1, :'second_merge');
SELECT string_agg(source_ref, ', ' ORDER BY source_ref) AS m3_after_unmerge
FROM scr.entries_as_of(:m3, :'second_unmerge');
-- Unmerging what is not merged does nothing.
SET ROLE regress_feed_acute;
SELECT scr.unmerge_patients('acute_pas', 'M3') = :m3 AS nothing_to_undo;
RESET ROLE;
SELECT from_local_id, to_local_id, merged_by, unmerged_at IS NOT NULL AS undone
FROM scr.patient_merge WHERE from_local_id IS NOT NULL AND to_local_id IS NOT NULL ORDER BY merge_id;

-- Unmerging the first of two chained merges (N1 into N2, then N2 into N3)
-- brings N1 back on its own; N2 stays with N3, and N3's golden record loses
-- what only N1 said.
SET ROLE regress_feed_acute;
SELECT scr.ingest_person('acute_pas', 'N1', '{"family_name": "Nash", "postcode": "LS1 1AA"}') AS n1 \gset
SELECT scr.ingest_person('acute_pas', 'N2', '{"family_name": "Nash"}') AS n2 \gset
SELECT scr.ingest_person('acute_pas', 'N3', '{"family_name": "Nash"}') AS n3 \gset
SELECT scr.merge_patients('acute_pas', 'N1', 'N2') = :n2 AS into_n2,
       scr.merge_patients('acute_pas', 'N2', 'N3') = :n3 AS into_n3;
RESET ROLE;
SELECT postcode AS n3_postcode_merged FROM scr.patient WHERE patient_id = :n3;
SET ROLE regress_feed_acute;
SELECT scr.unmerge_patients('acute_pas', 'N1') = :n1 AS n1_unmerged;
RESET ROLE;
SELECT patient_id = :n1 AS is_n1, patient_id = :n2 AS is_n2, merged_into = :n3 AS into_n3,
       merged_into IS NULL AS survivor, postcode
FROM scr.patient WHERE patient_id IN (:n1, :n2, :n3) ORDER BY patient_id;

-- Refusals.
SET ROLE regress_feed_acute;
SELECT refused(q) FROM (VALUES
    ($q$SELECT scr.merge_patients('acute_pas', 'M1', 'nobody')$q$),
    ($q$SELECT scr.merge_patients('acute_pas', NULL, 'M1')$q$),
    ($q$SELECT scr.merge_patients('gp_riverside', 'M1', 'M2')$q$),
    ($q$SELECT scr.unmerge_patients('acute_pas', 'nobody')$q$)
) AS t(q);
RESET ROLE;
