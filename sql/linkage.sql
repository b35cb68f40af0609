-- Patient linkage: the deterministic rule, the probabilistic matcher, the
-- conflicts that never auto-link (twins, father and son, NHS number
-- conflicts), the review queue and its decisions, explain_match,
-- match_person, settings and estimation.
SET search_path = public, scr;
SET datestyle = ISO;
SET scr.allow_test_nhs_numbers = on;
\set SHOW_CONTEXT never

INSERT INTO scr.organisation (ods_code, name, kind) VALUES
    ('LKG01', 'Linkage Surgery', 'gp_practice'), ('LKH01', 'Linkage Hospital', 'nhs_trust'),
    ('LKC01', 'Linkage Council', 'local_authority');
INSERT INTO scr.source_system (source_code, ods_code, kind) VALUES
    ('lk_gp', 'LKG01', 'gp'), ('lk_pas', 'LKH01', 'acute'), ('lk_care', 'LKC01', 'social_care');
CREATE ROLE regress_link_feed LOGIN IN ROLE scr_feed;
CREATE ROLE regress_link_admin LOGIN IN ROLE scr_admin;
CREATE ROLE regress_link_nobody LOGIN;
INSERT INTO scr.feed_binding VALUES ('regress_link_feed', 'lk_gp'), ('regress_link_feed', 'lk_pas'),
    ('regress_link_feed', 'lk_care');

-- send(source, local id, demographics): the patient the person links to.
CREATE FUNCTION public.send(s text, l text, d jsonb) RETURNS bigint
LANGUAGE sql RETURN scr.ingest_person(s, l, d);
GRANT EXECUTE ON FUNCTION public.send(text, text, jsonb) TO regress_link_feed;
-- how(source, local id): how that record was linked, and to which record's patient.
CREATE FUNCTION public.how(s text, l text) RETURNS text
LANGUAGE sql RETURN (SELECT si.link_method FROM scr.source_identifier si
                     WHERE si.source_code = s AND si.local_id = l);

SET ROLE regress_link_feed;
-- The GP's records: traced, clean.
SELECT send('lk_gp', 'G1', '{"nhs_number": "9995550016", "given_name": "William", "family_name": "Featherstone",
    "birth_date": "1948-03-04", "sex": "male", "postcode": "LS6 2AB", "address": "12 High Street, Leeds"}') AS william \gset
SELECT send('lk_gp', 'G2', '{"nhs_number": "9995550024", "given_name": "Aisha", "family_name": "Okonkwo",
    "birth_date": "1990-07-21", "sex": "female", "postcode": "BD7 1AA", "address": "3 Mill Road, Bradford"}') AS aisha \gset
-- Twins: same family name, birth date and address; other given names.
SELECT send('lk_gp', 'G3', '{"nhs_number": "9995550032", "given_name": "Oliver", "family_name": "Quennell",
    "birth_date": "2001-05-06", "sex": "male", "postcode": "WF1 2BB", "address": "8 Grange Road, Wakefield"}') AS oliver \gset
SELECT send('lk_gp', 'G4', '{"nhs_number": "9995550040", "given_name": "Harry", "family_name": "Quennell",
    "birth_date": "2001-05-06", "sex": "male", "postcode": "WF1 2BB", "address": "8 Grange Road, Wakefield"}') AS harry \gset
-- A father and son: one name, one address, born 30 years apart.
SELECT send('lk_gp', 'G5', '{"nhs_number": "9995550059", "given_name": "Piotr", "family_name": "Zielinski",
    "birth_date": "1960-02-11", "sex": "male", "postcode": "HG1 4DD", "address": "40 Oak Close, Harrogate"}') AS father \gset
SELECT send('lk_gp', 'G6', '{"nhs_number": "9995550067", "given_name": "Piotr", "family_name": "Zielinski",
    "birth_date": "1990-09-30", "sex": "male", "postcode": "HG1 4DD", "address": "40 Oak Close, Harrogate"}') AS son \gset
SELECT count(DISTINCT p) AS six_people
FROM unnest(ARRAY[:william, :aisha, :oliver, :harry, :father, :son]::bigint[]) p;

-- Deterministic: a valid NHS number with the same birth date links at once,
-- whatever the names say.
SELECT send('lk_pas', 'H1', '{"nhs_number": "9995550016", "given_name": "W", "family_name": "F",
    "birth_date": "1948-03-04"}') = :william AS same_number_and_birth_date;

-- Probabilistic links, without an NHS number: a nickname and a transposed
-- birth date; a typo in the family name and a new postcode; names swapped;
-- case, spacing and punctuation noise; an initial with a moved address.
SELECT send('lk_pas', 'H2', '{"given_name": "Bill", "family_name": "Featherstone", "birth_date": "1948-04-03",
    "sex": "male", "postcode": "LS6 2AB"}') = :william AS nickname_and_transposed_date;
SELECT send('lk_care', 'C1', '{"given_name": "Aisha", "family_name": "Okonkow", "birth_date": "1990-07-21",
    "sex": "female", "postcode": "LS9 9ZZ", "address": "1 New Build Close, Leeds"}') = :aisha AS typo_and_moved;
SELECT send('lk_care', 'C2', '{"given_name": "FEATHERSTONE", "family_name": "William", "birth_date": "1948-03-04",
    "postcode": "ls62ab"}') = :william AS swapped_names;
SELECT send('lk_care', 'C3', '{"given_name": "  aisha ", "family_name": "OKONKWO-SMITH", "birth_date": "1990-07-21",
    "address": "3, Mill Rd., Bradford"}') = :aisha AS noise_and_double_barrelled;

-- Twins never link: a hospital record for Harry without his NHS number
-- links to Harry, never to Oliver (the given name disagrees); a third twin,
-- Jack, goes to review with Oliver rather than joining either.
SELECT send('lk_pas', 'H3', '{"given_name": "Harry", "family_name": "Quennell", "birth_date": "2001-05-06",
    "sex": "male", "postcode": "WF1 2BB", "address": "8 Grange Road, Wakefield"}') = :harry AS harry_is_harry;
SELECT send('lk_pas', 'H4', '{"given_name": "Jack", "family_name": "Quennell", "birth_date": "2001-05-06",
    "sex": "male", "postcode": "WF1 2BB", "address": "8 Grange Road, Wakefield"}') AS jack \gset
SELECT :jack NOT IN (:oliver, :harry) AS third_twin_is_new;
-- With both NHS numbers valid and different, twins are two people: not even review.
SELECT send('lk_pas', 'H5', '{"nhs_number": "9995550075", "given_name": "Olive", "family_name": "Quennell",
    "birth_date": "2001-05-06", "sex": "female", "postcode": "WF1 2BB"}') AS olive \gset
SELECT :olive NOT IN (:oliver, :harry, :jack) AS olive_is_new;
-- Father and son: the son's hospital record (no number) does not join the father.
SELECT send('lk_pas', 'H6', '{"given_name": "Piotr", "family_name": "Zielinski", "birth_date": "1990-09-30",
    "sex": "male", "postcode": "HG1 4DD", "address": "40 Oak Close, Harrogate"}') = :son AS son_is_son;
SELECT send('lk_pas', 'H7', '{"given_name": "Piotr", "family_name": "Zielinski", "birth_date": "1960-02-11",
    "sex": "male", "postcode": "HG1 4DD"}') = :father AS father_is_father;

-- NHS number conflicts never auto-link to the number's holder: the same
-- number with another birth date goes to review; a record carrying someone
-- else's number links by its names and birth date when they agree exactly
-- with one patient (here Aisha), never to the holder (William).
SELECT send('lk_care', 'C4', '{"nhs_number": "9995550024", "given_name": "Aisha", "family_name": "Okonkwo",
    "birth_date": "1991-01-01", "sex": "female", "postcode": "BD7 1AA"}') <> :aisha AS other_birth_date_not_linked;
SELECT send('lk_care', 'C5', '{"nhs_number": "9995550016", "given_name": "Aisha", "family_name": "Okonkwo",
    "birth_date": "1990-07-21", "sex": "female", "postcode": "BD7 1AA"}') = :aisha AS borrowed_number_links_by_demographics;
RESET ROLE;

-- The review queue: each undecided pair with the reason and the weights.
SELECT local_id, candidate_local_id, kind, status, reason, score >= 8 AS above_review_threshold,
       breakdown -> 'given_name' ->> 'level' AS given_level,
       breakdown -> 'birth_date' ->> 'level' AS birth_level
FROM scr.link_review_queue WHERE source_code LIKE 'lk\_%' ORDER BY link_review_id;
-- How each record was linked, and to whom.
SELECT si.source_code, si.local_id, si.link_method,
       (SELECT g.local_id FROM scr.source_identifier g
        WHERE g.source_code = 'lk_gp' AND scr.current_patient_id(g.patient_id) = scr.current_patient_id(si.patient_id)
        ORDER BY g.local_id LIMIT 1) AS gp_record
FROM scr.source_identifier si WHERE si.source_code LIKE 'lk\_%' ORDER BY si.source_identifier_id;

-- Resolving: only operators; the decision must be known; a review is decided once.
\c - regress_link_nobody
SET search_path = public, scr;
SELECT scr.resolve_link_review(1, 'link');
SELECT * FROM scr.match_person('{"given_name": "Bill"}');
\c - regress_link_admin
SET search_path = public, scr;
SELECT link_review_id AS c4_review FROM scr.link_review_queue WHERE source_code = 'lk_care' AND local_id = 'C4' \gset
SELECT link_review_id AS jack_review FROM scr.link_review_queue WHERE source_code = 'lk_pas' AND local_id = 'H4' \gset
\set ON_ERROR_STOP 0
SELECT scr.resolve_link_review(:c4_review, 'maybe');
SELECT scr.resolve_link_review(-1, 'link');
\set ON_ERROR_STOP 1
-- C4 is Aisha after all (her birth date was wrong): link.  The record's
-- patient merges into hers, reversibly.
SELECT scr.resolve_link_review(:c4_review, 'link', 'birth date confirmed with the patient') = :aisha AS linked_to_aisha;
\set ON_ERROR_STOP 0
SELECT scr.resolve_link_review(:c4_review, 'keep_apart');
\set ON_ERROR_STOP 1
-- Jack is a third triplet: keep apart, and the pair is not asked again.
SELECT scr.resolve_link_review(:jack_review, 'keep_apart') = :jack AS jack_stays_jack;
RESET ROLE;
\c - postgres
SET search_path = public, scr;
SET scr.allow_test_nhs_numbers = on;
SELECT how('lk_care', 'C4') AS c4_method, scr.current_patient_id(si.patient_id) = :aisha AS c4_reads_as_aisha
FROM scr.source_identifier si WHERE si.local_id = 'C4';
SELECT status, decided_by, note FROM scr.link_review WHERE link_review_id IN (:c4_review, :jack_review)
ORDER BY link_review_id;
SET ROLE regress_link_feed;
SELECT send('lk_pas', 'H4', '{"given_name": "Jack", "family_name": "Quennell", "birth_date": "2001-05-06",
    "sex": "male", "postcode": "WF1 2BB", "address": "8 Grange Road, Wakefield"}') = :jack AS jack_update;
RESET ROLE;
SELECT count(*) AS open_reviews_for_jack FROM scr.link_review lr
JOIN scr.source_identifier si USING (source_identifier_id)
WHERE si.source_code = 'lk_pas' AND si.local_id = 'H4' AND lr.status = 'open';
-- The care record undoes the link with an ordinary unmerge.
SET ROLE regress_link_feed;
SELECT scr.unmerge_patients('lk_care', 'C4') <> :aisha AS unlinked;
RESET ROLE;

-- Re-linking.  A source corrects a record: when the record no longer
-- matches the rest of its patient, the link goes back to review (the record
-- stays where it is until an operator or the source acts).
SET ROLE regress_link_feed;
SELECT send('lk_care', 'C1', '{"given_name": "Zebedee", "family_name": "Quark", "birth_date": "1930-01-01",
    "sex": "male"}') = :aisha AS c1_stays_for_now;
RESET ROLE;
SELECT kind, status, reason, candidate_patient_id = :aisha AS about_aisha
FROM scr.link_review_queue WHERE source_code = 'lk_care' AND local_id = 'C1';
-- link (it still belongs) or keep_apart (it does not) answers it; keep_apart
-- undoes the merge that linked it, so the record stands on its own.
SELECT link_review_id AS c1_review FROM scr.link_review_queue WHERE source_code = 'lk_care' AND local_id = 'C1' \gset
\set ON_ERROR_STOP 0
SELECT scr.resolve_link_review(:c1_review, 'merge');
\set ON_ERROR_STOP 1
SELECT scr.resolve_link_review(:c1_review, 'keep_apart') <> :aisha AS c1_on_its_own;
SELECT scr.current_patient_id(si.patient_id) <> :aisha AS c1_reads_apart
FROM scr.source_identifier si WHERE si.source_code = 'lk_care' AND si.local_id = 'C1';
-- New information shows two patients are one: a record first sent with a
-- wrong birth date stood apart (and went to review); corrected, it matches
-- the other patient, and the two merge -- the open question withdrawn.
SET ROLE regress_link_feed;
SELECT send('lk_pas', 'H8', '{"given_name": "Rosalind", "family_name": "Pemberton", "birth_date": "1972-03-03",
    "postcode": "WF2 7AA"}') AS ros_a \gset
SELECT send('lk_care', 'C7', '{"given_name": "Rosalind", "family_name": "Pemberton", "birth_date": "1972-11-30",
    "postcode": "WF2 7AA"}') AS ros_b \gset
SELECT :ros_a <> :ros_b AS apart_at_first;
SELECT send('lk_care', 'C7', '{"given_name": "Rosalind", "family_name": "Pemberton", "birth_date": "1972-03-03",
    "postcode": "WF2 7AA"}') IS NOT NULL AS corrected;
RESET ROLE;
SELECT scr.current_patient_id(:ros_a) = scr.current_patient_id(:ros_b) AS one_patient_now;
SELECT status, reason, note FROM scr.link_review_queue WHERE source_code = 'lk_care' AND local_id = 'C7'
ORDER BY link_review_id;

-- A record alone on its patient, corrected to another patient's NHS number
-- and birth date: a question, not a merge.
SET ROLE regress_link_feed;
SELECT send('lk_care', 'C8', '{"given_name": "Nobody", "family_name": "Special", "birth_date": "1990-07-21"}') <> :aisha AS c8_new;
SELECT send('lk_care', 'C8', '{"nhs_number": "9995550024", "given_name": "Nobody", "family_name": "Special",
    "birth_date": "1990-07-21"}') <> :aisha AS c8_not_merged;
RESET ROLE;
SELECT kind, status, reason, candidate_patient_id = :aisha AS about_aisha
FROM scr.link_review_queue WHERE source_code = 'lk_care' AND local_id = 'C8';

-- A probabilistic link is a merge of the record's own patient into the one
-- it matched: an operator can undo it, and the pair is then kept apart.
SELECT si.patient_id AS h2_record, si.patient_id <> :william AS own_patient_row
FROM scr.source_identifier si WHERE si.source_code = 'lk_pas' AND si.local_id = 'H2' \gset
SELECT :'own_patient_row' AS h2_has_its_own_patient_row;
\c - regress_link_nobody
\set ON_ERROR_STOP 0
SELECT scr.undo_merge(1);
\set ON_ERROR_STOP 1
\c - regress_link_admin
\set ON_ERROR_STOP 0
SELECT scr.undo_merge(-1);
SELECT scr.undo_merge(:william);
\set ON_ERROR_STOP 1
SELECT scr.undo_merge(:h2_record) = :h2_record AS undone;
\c - postgres
SET search_path = public, scr;
SET scr.allow_test_nhs_numbers = on;
SELECT scr.current_patient_id(:h2_record) = :h2_record AS h2_apart,
       scr._kept_apart(:h2_record, :william) AS remembered;

-- explain_match: every comparison's level and weight, and the total.
SELECT comparison, level, label, round(weight::numeric, 2) AS weight
FROM scr.explain_match('{"given_name": "Bill", "family_name": "Smyth", "birth_date": "1950-04-03", "sex": "male",
                         "postcode": "LS6 2AB"}',
                       '{"given_name": "William", "family_name": "Smith", "birth_date": "1950-03-04",
                         "sex": "male", "postcode": "LS6 2AQ", "nhs_number": "9995550016"}');

-- match_person says what would happen and writes nothing.
SELECT count(*) AS records_before FROM scr.source_identifier \gset
SELECT patient_id = :william AS would_be_william, decision, reason
FROM scr.match_person('{"given_name": "Will", "family_name": "Featherstone", "birth_date": "1948-03-04", "postcode": "LS6 2AB"}');
SELECT patient_id = :william AS deterministic_william, decision, reason
FROM scr.match_person('{"nhs_number": "999 555 0016", "birth_date": "1948-03-04"}', deterministic => true);
SELECT patient_id, decision FROM scr.match_person('{"given_name": "Will", "family_name": "Featherstone"}', true);
SELECT count(*) = :records_before AS nothing_written FROM scr.source_identifier;

-- Settings: thresholds and blocking rules decide.  Only a superuser sets them.
-- The thresholds in force are the settings while the record holds up to
-- 10,000 patients (one bit more per doubling beyond).
SELECT * FROM scr.linkage_thresholds();
SET scr.link_threshold = 60;
SELECT decision, reason FROM scr.match_person('{"given_name": "Will", "family_name": "Featherstone", "birth_date": "1948-03-04", "postcode": "LS6 2AB"}');
RESET scr.link_threshold;
SET scr.linkage_blocking_rules = 'nhs_number';
SELECT decision FROM scr.match_person('{"given_name": "Will", "family_name": "Featherstone", "birth_date": "1948-03-04", "postcode": "LS6 2AB"}');
RESET scr.linkage_blocking_rules;
\set ON_ERROR_STOP 0
SET scr.linkage_blocking_rules = 'nhs_number, birthday';
\set ON_ERROR_STOP 1
SET ROLE regress_link_admin;
\set ON_ERROR_STOP 0
SET scr.link_threshold = -50;
\set ON_ERROR_STOP 1
RESET ROLE;

-- Estimation: m and u from the data (too few records here: every level
-- keeps its default), term frequencies recounted.
SELECT count(*) AS levels, bool_and(m > 0 AND m < 1 AND u > 0 AND u < 1) AS probabilities
FROM scr.estimate_linkage_weights(10000, 3);
SELECT count(*) > 0 AS frequencies FROM scr.linkage_term_frequency WHERE comparison = 'family_name';
-- A rarer family name weighs more than a commoner one once frequencies
-- exist: Featherstone is on 2 records, Quennell on 5.
SELECT (SELECT weight FROM scr.explain_match('{"family_name": "Featherstone"}', '{"family_name": "Featherstone"}')
        WHERE comparison = 'family_name')
     > (SELECT weight FROM scr.explain_match('{"family_name": "Quennell"}', '{"family_name": "Quennell"}')
        WHERE comparison = 'family_name') AS rarer_name_weighs_more;
DELETE FROM scr.linkage_weight;
DELETE FROM scr.linkage_term_frequency;

-- An edited weight is used from the next statement (the matcher keeps the
-- probabilities until a weight table changes), and the default once it goes.
SELECT round(weight::numeric, 3) AS sex_agrees FROM scr.explain_match('{"sex": "female"}', '{"sex": "female"}')
WHERE comparison = 'sex';
INSERT INTO scr.linkage_weight (comparison, level, m, u) VALUES ('sex', 1, 0.96, 0.03);
SELECT round(weight::numeric, 3) AS sex_agrees_edited FROM scr.explain_match('{"sex": "female"}', '{"sex": "female"}')
WHERE comparison = 'sex';
DELETE FROM scr.linkage_weight;
SELECT round(weight::numeric, 3) AS sex_agrees_again FROM scr.explain_match('{"sex": "female"}', '{"sex": "female"}')
WHERE comparison = 'sex';

-- The candidate search reads every person record past row-level security:
-- granted to a role that RLS binds, it still refuses.
GRANT EXECUTE ON FUNCTION scr._link_candidates(scr.link_keys, bigint, double precision[], double precision[], double precision)
    TO regress_link_nobody;
GRANT SELECT ON scr.source_identifier TO regress_link_nobody;
SET ROLE regress_link_nobody;
\set ON_ERROR_STOP 0
SELECT * FROM scr._link_candidates(ROW('anne', 'smith', 'AN', 'SM0', '1960-01-01', 'female', NULL, NULL, NULL, NULL, NULL, NULL)::scr.link_keys,
                                   NULL, array_fill(0.5::float8, ARRAY[42]), array_fill(0.5::float8, ARRAY[42]));
\set ON_ERROR_STOP 1
RESET ROLE;
REVOKE SELECT ON scr.source_identifier FROM regress_link_nobody;
REVOKE EXECUTE ON FUNCTION scr._link_candidates(scr.link_keys, bigint, double precision[], double precision[], double precision)
    FROM regress_link_nobody;

-- Nicknames are editable; a row must be normalised.
\set ON_ERROR_STOP 0
INSERT INTO scr.linkage_nickname (name, alias) VALUES ('Zbigniew', 'Zbyszek');
\set ON_ERROR_STOP 1
INSERT INTO scr.linkage_nickname (name, alias) VALUES ('zbigniew', 'zbyszek');
SELECT comparison, level, label FROM scr.explain_match('{"given_name": "Zbyszek"}', '{"given_name": "Zbigniew"}')
WHERE comparison = 'given_name';
DELETE FROM scr.linkage_nickname WHERE name = 'zbigniew';

DELETE FROM scr.feed_binding WHERE role_name = 'regress_link_feed';
DROP FUNCTION public.send(text, text, jsonb), public.how(text, text);
DROP ROLE regress_link_feed, regress_link_admin, regress_link_nobody;
