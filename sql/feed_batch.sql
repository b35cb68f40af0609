-- scr.ingest_batch: many messages in one call; each bad message is kept in
-- the dead-letter table with why, the rest load; operators replay fixes.
SET search_path = public, scr;
SET datestyle = ISO;
\set SHOW_CONTEXT never
SET scr.allow_test_nhs_numbers = on;

SET ROLE regress_feed_acute;
SELECT * FROM scr.ingest_batch('acute_pas', $$[
  {"type": "person", "local_id": "B1", "demographics": {"given_name": "Bea", "family_name": "Brown", "birth_date": "1980-08-08"}},
  {"type": "entry", "local_id": "B1", "entry": {"kind": "encounter", "source_ref": "enc-1", "source_timestamp": "2024-05-01T12:00:00Z", "status": "finished", "display": "A&E attendance"}},
  {"type": "entry", "local_id": "B1", "entry": {"kind": "encounter", "source_ref": "enc-1", "source_timestamp": "2024-05-01T12:00:00Z", "status": "finished", "display": "A&E attendance"}},
  {"type": "entry", "local_id": "B1", "entry": {"kind": "observation", "source_ref": "obs-1", "source_timestamp": "2024-05-01T12:05:00Z", "status": "final", "code": "271649006", "display": "Systolic blood pressure", "payload": {"resourceType": "Observation", "valueQuantity": {"value": 150, "unit": "mm[Hg]"}}}},
  {"type": "entry", "local_id": "B2", "entry": {"kind": "observation", "source_ref": "obs-2", "source_timestamp": "2024-05-01T12:05:00Z", "status": "final"}},
  {"type": "person", "local_id": "B3", "demographics": {"birth_date": "1980-02-31"}},
  {"type": "letter", "local_id": "B1"},
  "not an object",
  {"type": "entry", "local_id": "B1", "entry": {"kind": "problem", "source_ref": "p-1", "source_timestamp": "2024-05-01", "status": "active", "payload": {"resourceType": "Condition", "note": [{"text": "Robert'); DROP TABLE scr.entry; --"}]}}}
]$$);
RESET ROLE;

-- Every rejected message is kept, with where it came from and why.
SELECT feed_error_id, source_code, message_type, local_id, sqlstate, error, detail, submitted_by, replayed_at
FROM scr.feed_error ORDER BY feed_error_id;
SELECT message FROM scr.feed_error WHERE local_id = 'B2';

-- Batch-level refusals are errors, not dead letters.
\set ON_ERROR_STOP 0
SET ROLE regress_feed_acute;
SELECT * FROM scr.ingest_batch('acute_pas', '{"type": "person"}');
SELECT * FROM scr.ingest_batch('acute_pas', NULL);
SELECT * FROM scr.ingest_batch('gp_riverside', '[]');
RESET ROLE;
\set ON_ERROR_STOP 1
SELECT * FROM scr.ingest_batch('acute_pas', '[]');

-- The dead-letter queue is for operators: feeds and others cannot read it.
\set ON_ERROR_STOP 0
SET ROLE regress_feed_acute;
SELECT count(*) FROM scr.feed_error;
SELECT scr.replay_feed_error(1);
RESET ROLE;
\set ON_ERROR_STOP 1
SET ROLE regress_admin;
SELECT count(*) AS open_errors FROM scr.feed_error WHERE replayed_at IS NULL;

-- Replay: the entry for B2 failed because B2 was unknown.  Once the person
-- arrives, the stored message replays as it is.
SELECT feed_error_id AS b2_error FROM scr.feed_error WHERE local_id = 'B2' \gset
RESET ROLE;
SET ROLE regress_feed_acute;
SELECT scr.ingest_person('acute_pas', 'B2', '{"given_name": "Ben"}') IS NOT NULL AS b2_sent;
RESET ROLE;
SET ROLE regress_admin;
SELECT scr.replay_feed_error(:b2_error);
-- A message that still fails is left open with the new reason.
SELECT feed_error_id AS b3_error FROM scr.feed_error WHERE local_id = 'B3' \gset
SELECT scr.replay_feed_error(:b3_error);
-- An operator can replay a corrected message.
SELECT scr.replay_feed_error(:b3_error,
    '{"type": "person", "local_id": "B3", "demographics": {"birth_date": "1980-02-28"}}');
-- Replaying twice is refused.
SELECT split_part(refused(format('SELECT scr.replay_feed_error(%s)', :b3_error)), ' (', 1) AS refused_twice;
\set ON_ERROR_STOP 0
SELECT scr.replay_feed_error(999999);
\set ON_ERROR_STOP 1
SELECT local_id, sqlstate, replayed_at IS NOT NULL AS replayed, replay_result
FROM scr.feed_error ORDER BY feed_error_id;
RESET ROLE;
SELECT source_ref, status FROM scr.entry WHERE source_code = 'acute_pas' ORDER BY source_ref;
SELECT payload -> 'note' -> 0 ->> 'text' AS stored_as_data FROM scr.entry WHERE source_ref = 'p-1';
