-- Patient linkage (src/linkage.c): comparison keys stored beside every
-- source record, blocking indexes, match weights and their estimation,
-- nicknames, term frequencies, the decision, and the link review queue.

-- Comparison keys: normalised once when a record is written, compared many
-- times.  Generated columns keep them right whatever writes the row.
ALTER TABLE scr.source_identifier
    ADD COLUMN given_key text GENERATED ALWAYS AS (scr.normalise_name(given_name)) STORED,
    ADD COLUMN family_key text GENERATED ALWAYS AS (scr.normalise_name(family_name)) STORED,
    ADD COLUMN given_phonetic text GENERATED ALWAYS AS (scr.phonetic(given_name)) STORED,
    ADD COLUMN family_phonetic text GENERATED ALWAYS AS (scr.phonetic(family_name)) STORED,
    ADD COLUMN postcode_key text GENERATED ALWAYS AS (scr.postcode_key(postcode)) STORED,
    ADD COLUMN address_key text GENERATED ALWAYS AS (scr.normalise_address(address)) STORED;
COMMENT ON COLUMN scr.source_identifier.given_key IS 'Linkage: the given name normalised (scr.normalise_name)';
COMMENT ON COLUMN scr.source_identifier.family_key IS 'Linkage: the family name normalised (scr.normalise_name)';
COMMENT ON COLUMN scr.source_identifier.given_phonetic IS 'Linkage: phonetic key of the given name (scr.phonetic)';
COMMENT ON COLUMN scr.source_identifier.family_phonetic IS 'Linkage: phonetic key of the family name (scr.phonetic)';
COMMENT ON COLUMN scr.source_identifier.postcode_key IS 'Linkage: the postcode normalised (scr.postcode_key)';
COMMENT ON COLUMN scr.source_identifier.address_key IS 'Linkage: the address normalised (scr.normalise_address)';

-- Blocking: each rule is an index, so finding the candidates for one record
-- costs a few index probes whatever the size of the record.
CREATE INDEX source_identifier_nhs_number_idx ON scr.source_identifier (nhs_number);
-- The birth date rule finds most candidates (some 30 a record in a record of
-- a million): its index also holds every column compared, so the candidate
-- search reads a leaf page instead of a heap page per candidate when the
-- visibility map allows (src/linkage_candidates.c).
CREATE INDEX source_identifier_birth_date_idx ON scr.source_identifier (birth_date)
    INCLUDE (patient_id, source_identifier_id, given_key, family_key, given_phonetic,
             family_phonetic, sex, postcode_key, address_key, nhs_number);
CREATE INDEX source_identifier_family_birth_idx ON scr.source_identifier (family_phonetic, birth_date);
CREATE INDEX source_identifier_family_initial_birth_idx
    ON scr.source_identifier (family_phonetic, left(given_key, 1), birth_date);
CREATE INDEX source_identifier_postcode_birth_idx ON scr.source_identifier (postcode_key, birth_date);
CREATE INDEX source_identifier_names_idx ON scr.source_identifier (given_phonetic, family_phonetic);
CREATE INDEX source_identifier_postcode_family_idx ON scr.source_identifier (postcode_key, family_phonetic);
CREATE INDEX source_identifier_postcode_given_idx ON scr.source_identifier (postcode_key, given_phonetic);

CREATE TABLE scr.linkage_blocking_rule (
    rule        text PRIMARY KEY,
    finds       text NOT NULL,
    misses      text NOT NULL
);
COMMENT ON TABLE scr.linkage_blocking_rule IS
    'The blocking rules that find linkage candidates; scr.linkage_blocking_rules says which are used';
INSERT INTO scr.linkage_blocking_rule VALUES
    ('nhs_number', 'records with the same valid NHS number',
     'records without a valid number, or with a mistyped one'),
    ('birth_date', 'records with the same birth date',
     'records whose birth date is missing or wrong in either'),
    ('family_name_birth_year', 'records with the same phonetic family name and given-name initial born the same year (any given name when the incoming has none)',
     'a changed family name (marriage) or a given name with another initial (Peggy for Margaret), together with a wrong birth date'),
    ('postcode_birth_year', 'records at the same postcode born the same year',
     'a move of house together with a wrong birth year'),
    ('names', 'for a record without a birth date: records with the same phonetic given and family names',
     'a nickname or changed family name; capped for common names'),
    ('swapped_names', 'records whose phonetic given and family names are the incoming family and given names; whose family name is the incoming given name, born the same year; or at the same postcode, whose given name is the incoming family name',
     'swapped names with typos in both, a wrong birth year and a move of house'),
    ('postcode_family_name', 'records at the same postcode with the same phonetic family name, whatever the birth date',
     'a move of house together with a changed family name'),
    ('postcode_given_name', 'records at the same postcode with the same phonetic given name, whatever the birth date',
     'a move of house together with a changed or misspelt given name');

-- Match weights.  A comparison puts a pair at a level; m is how often true
-- matches fall at that level, u how often non-matches do.  The shipped
-- defaults are here; scr.linkage_weight holds the estimated or edited ones
-- and wins where it has a row.
CREATE TABLE scr.linkage_weight_default (
    comparison  text NOT NULL CHECK (comparison IN ('given_name', 'family_name', 'birth_date',
                                                    'sex', 'postcode', 'address', 'nhs_number')),
    level       smallint NOT NULL CHECK (level BETWEEN 1 AND 6),
    label       text NOT NULL,
    m           double precision NOT NULL CHECK (m > 0 AND m < 1),
    u           double precision NOT NULL CHECK (u > 0 AND u < 1),
    PRIMARY KEY (comparison, level)
);
COMMENT ON TABLE scr.linkage_weight_default IS 'Shipped match probabilities per comparison level (see scr.linkage_weight)';
INSERT INTO scr.linkage_weight_default VALUES
    ('given_name', 1, 'exact', 0.82, 0.01),
    ('given_name', 2, 'nickname or same first name', 0.08, 0.002),
    ('given_name', 3, 'Jaro-Winkler >= 0.92 or one edit', 0.05, 0.004),
    ('given_name', 4, 'Jaro-Winkler >= 0.80, same phonetic code, or an initial', 0.03, 0.03),
    ('given_name', 5, 'different', 0.02, 0.954),
    ('family_name', 1, 'exact', 0.84, 0.005),
    ('family_name', 2, 'Jaro-Winkler >= 0.92, one edit, or one part of a double name', 0.08, 0.003),
    ('family_name', 3, 'Jaro-Winkler >= 0.80 or same phonetic code', 0.03, 0.02),
    ('family_name', 4, 'different', 0.05, 0.972),
    ('birth_date', 1, 'exact', 0.94, 0.00004),
    ('birth_date', 2, 'day and month transposed', 0.015, 0.00004),
    ('birth_date', 3, 'one of year, month, day different', 0.035, 0.0012),
    ('birth_date', 4, 'different', 0.01, 0.99872),
    ('sex', 1, 'same', 0.98, 0.5),
    ('sex', 2, 'different', 0.02, 0.5),
    ('postcode', 1, 'same', 0.80, 0.0005),
    ('postcode', 2, 'same sector, or one edit (not UK)', 0.03, 0.003),
    ('postcode', 3, 'same outward code', 0.04, 0.05),
    ('postcode', 4, 'different', 0.13, 0.9465),
    ('address', 1, 'same', 0.72, 0.0005),
    ('address', 2, 'most words in common', 0.10, 0.003),
    ('address', 3, 'different', 0.18, 0.9965),
    ('nhs_number', 1, 'same', 0.95, 0.000001),
    ('nhs_number', 2, 'different', 0.05, 0.999999);

CREATE TABLE scr.linkage_weight (
    comparison  text NOT NULL,
    level       smallint NOT NULL,
    m           double precision NOT NULL CHECK (m > 0 AND m < 1),
    u           double precision NOT NULL CHECK (u > 0 AND u < 1),
    estimated_at timestamptz NOT NULL DEFAULT statement_timestamp(),
    PRIMARY KEY (comparison, level),
    FOREIGN KEY (comparison, level) REFERENCES scr.linkage_weight_default
);
COMMENT ON TABLE scr.linkage_weight IS
    'Match probabilities estimated from the record (scr.estimate_linkage_weights) or set by an operator; override the defaults';

-- The m and u vectors the matcher reads: comparison-major, six levels each
-- (C: read once, and again after either weight table changes).
CREATE FUNCTION scr._linkage_probabilities(OUT m double precision[], OUT u double precision[])
    AS 'MODULE_PATHNAME', 'linkage_probabilities' LANGUAGE C STABLE;
CREATE TRIGGER linkage_weight_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON scr.linkage_weight
    FOR EACH STATEMENT EXECUTE FUNCTION scr.access_invalidate();
CREATE TRIGGER linkage_weight_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON scr.linkage_weight_default
    FOR EACH STATEMENT EXECUTE FUNCTION scr.access_invalidate();

-- Nicknames and variant spellings of given names, both ways round.
CREATE TABLE scr.linkage_nickname (
    name        text NOT NULL CHECK (name = scr.normalise_name(name)),
    alias       text NOT NULL CHECK (alias = scr.normalise_name(alias) AND alias <> name),
    shipped     boolean NOT NULL DEFAULT false,
    PRIMARY KEY (name, alias)
);
CREATE INDEX linkage_nickname_alias_idx ON scr.linkage_nickname (alias);
COMMENT ON TABLE scr.linkage_nickname IS
    'Given names that are one name (William, Bill): a nickname agrees at the nickname level; add rows for local names';
INSERT INTO scr.linkage_nickname (name, alias, shipped)
SELECT n, a, true FROM (VALUES
    ('william', 'bill'), ('william', 'will'), ('william', 'billy'), ('william', 'liam'),
    ('robert', 'bob'), ('robert', 'rob'), ('robert', 'bobby'), ('robert', 'robbie'),
    ('richard', 'dick'), ('richard', 'rick'), ('richard', 'rich'), ('james', 'jim'),
    ('james', 'jimmy'), ('james', 'jamie'), ('john', 'jack'), ('john', 'johnny'),
    ('thomas', 'tom'), ('thomas', 'tommy'), ('edward', 'ted'), ('edward', 'ed'),
    ('edward', 'eddie'), ('edward', 'ned'), ('daniel', 'dan'), ('daniel', 'danny'),
    ('christopher', 'chris'), ('christopher', 'kit'), ('joseph', 'joe'), ('anthony', 'tony'),
    ('michael', 'mike'), ('michael', 'mick'), ('david', 'dave'), ('stephen', 'steve'),
    ('steven', 'steve'), ('stephen', 'steven'), ('peter', 'pete'), ('andrew', 'andy'),
    ('alexander', 'alex'), ('alexander', 'sandy'), ('benjamin', 'ben'), ('samuel', 'sam'),
    ('matthew', 'matt'), ('nicholas', 'nick'), ('jonathan', 'jon'), ('timothy', 'tim'),
    ('patrick', 'paddy'), ('charles', 'charlie'), ('charles', 'chuck'), ('henry', 'harry'),
    ('frederick', 'fred'), ('albert', 'bert'), ('lawrence', 'larry'), ('gerald', 'gerry'),
    ('kenneth', 'ken'), ('leonard', 'len'), ('ronald', 'ron'), ('donald', 'don'),
    ('mohammed', 'muhammad'), ('mohammed', 'mohammad'), ('mohammed', 'mohamed'),
    ('muhammad', 'mohammad'), ('muhammad', 'mohamed'), ('mohammad', 'mohamed'),
    ('ahmed', 'ahmad'), ('oluwaseun', 'seun'), ('olusegun', 'segun'), ('oluwafemi', 'femi'),
    ('margaret', 'peggy'), ('margaret', 'maggie'), ('margaret', 'meg'), ('margaret', 'rita'),
    ('elizabeth', 'liz'), ('elizabeth', 'beth'), ('elizabeth', 'betty'), ('elizabeth', 'lizzie'),
    ('elizabeth', 'eliza'), ('elizabeth', 'bess'), ('catherine', 'kate'), ('catherine', 'cathy'),
    ('katherine', 'kate'), ('katherine', 'kathy'), ('catherine', 'katherine'),
    ('kathleen', 'kath'), ('susan', 'sue'), ('susan', 'suzy'), ('jennifer', 'jenny'),
    ('jennifer', 'jen'), ('patricia', 'pat'), ('patricia', 'trish'), ('rebecca', 'becky'),
    ('rebecca', 'becca'), ('deborah', 'debbie'), ('deborah', 'deb'), ('victoria', 'vicky'),
    ('alexandra', 'alex'), ('alexandra', 'sandra'), ('christine', 'chris'),
    ('christina', 'tina'), ('dorothy', 'dot'), ('dorothy', 'dolly'), ('mary', 'molly'),
    ('mary', 'polly'), ('sarah', 'sara'), ('sarah', 'sally'), ('ann', 'anne'),
    ('ann', 'annie'), ('anne', 'annie'), ('helen', 'nell'), ('eleanor', 'ellie'),
    ('eleanor', 'nell'), ('olivia', 'liv'), ('olivia', 'livvy'), ('jacqueline', 'jackie'),
    ('josephine', 'jo'), ('joanne', 'jo'), ('samantha', 'sam'), ('abigail', 'abby'),
    ('aisha', 'ayesha'), ('fatima', 'fatimah'), ('chiamaka', 'amaka'), ('agnieszka', 'aga'),
    ('malgorzata', 'gosia'), ('katarzyna', 'kasia'), ('aleksandra', 'ola'),
    ('siobhan', 'shiv'), ('sinead', 'shinead'), ('mairead', 'maureen'), ('sean', 'shaun'),
    ('sean', 'shawn'), ('shaun', 'shawn'), ('ian', 'iain'), ('neil', 'neal'),
    ('philip', 'phil'), ('phillip', 'phil'), ('philip', 'phillip'), ('gurpreet', 'preet'),
    ('harjit', 'harry'), ('jaswinder', 'jas'), ('rajinder', 'raj'), ('mohinder', 'mo')
) AS v(n, a);

-- Term frequencies: the share of records carrying each exact name.
CREATE TABLE scr.linkage_term_frequency (
    comparison  text NOT NULL CHECK (comparison IN ('given_name', 'family_name')),
    value       text NOT NULL,
    frequency   double precision NOT NULL CHECK (frequency > 0 AND frequency <= 1),
    PRIMARY KEY (comparison, value)
);
COMMENT ON TABLE scr.linkage_term_frequency IS
    'Share of records with each exact given and family name (scr.refresh_linkage_term_frequencies); agreement on a common name weighs less';

-- Settings (C): thresholds and the blocking rules in use.
CREATE FUNCTION scr.linkage_settings(OUT link_threshold double precision,
                                     OUT review_threshold double precision,
                                     OUT blocking_rules text[], OUT candidates_per_rule integer,
                                     OUT household_guard boolean)
    AS 'MODULE_PATHNAME', 'linkage_settings' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION scr.linkage_settings() IS
    'linkage settings in force: scr.link_threshold, scr.review_threshold, scr.linkage_blocking_rules, scr.linkage_candidates_per_rule, scr.linkage_household_guard';

-- The matcher (C).
CREATE FUNCTION scr._link_levels(
        a_given text, a_family text, a_given_phonetic text, a_family_phonetic text,
        a_birth date, a_sex text, a_postcode text, a_address text, a_nhs scr.nhs_number,
        a_given_aliases text[],
        b_given text, b_family text, b_given_phonetic text, b_family_phonetic text,
        b_birth date, b_sex text, b_postcode text, b_address text, b_nhs scr.nhs_number)
    RETURNS smallint[]
    AS 'MODULE_PATHNAME', 'link_levels' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION scr._link_weights(levels smallint[], m double precision[], u double precision[],
                                  tf_given double precision, tf_family double precision)
    RETURNS double precision[]
    AS 'MODULE_PATHNAME', 'link_weights' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION scr._link_score(levels smallint[], m double precision[], u double precision[],
                                tf_given double precision, tf_family double precision)
    RETURNS double precision
    AS 'MODULE_PATHNAME', 'link_score' LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- An incoming person's comparison keys, computed as the generated columns
-- compute them, with the given name's aliases and the names' frequencies.
CREATE TYPE scr.link_keys AS (
    given_key       text,
    family_key      text,
    given_phonetic  text,
    family_phonetic text,
    birth_date      date,
    sex             text,
    postcode_key    text,
    address_key     text,
    nhs_number      scr.nhs_number,
    given_aliases   text[],
    tf_given        double precision,
    tf_family       double precision
);

-- The thresholds in force (C): the settings plus one bit per doubling of
-- the record beyond 10,000 patients (pg_class.reltuples of scr.patient).
CREATE FUNCTION scr.linkage_thresholds(OUT link_threshold double precision,
                                       OUT review_threshold double precision)
    AS 'MODULE_PATHNAME', 'linkage_thresholds' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION scr.linkage_thresholds() IS
    'the link and review thresholds in force: the settings plus one bit per doubling of the record beyond 10,000 patients';

-- Whether a pair's levels are a conflict that never auto-links.  Names
-- "agree" at the exact, nickname or close levels.  A conflict: a given name
-- or birth date that disagree outright (with the household guard on: twins,
-- a father and son); the same NHS number with another birth date, unless
-- day and month are merely transposed and the names agree; different valid
-- NHS numbers, unless names, birth date and postcode or address all agree
-- (one record carries someone else's number).
CREATE FUNCTION scr._link_conflict(levels smallint[], household_guard boolean) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (household_guard AND (levels[1] = 5 OR levels[3] = 4))
    OR (levels[7] = 1 AND levels[3] IN (3, 4))
    OR (levels[7] = 1 AND levels[3] = 2 AND NOT (levels[1] IN (1, 2, 3) AND levels[2] IN (1, 2)))
    OR (levels[7] = 2 AND NOT (levels[1] IN (1, 2) AND levels[2] IN (1, 2) AND levels[3] = 1
                               AND (levels[5] = 1 OR levels[6] IN (1, 2))));

-- What linkage decides for a person: 'link' to a patient, 'review' (a new
-- patient now, and the pair in the review queue), or 'new'.  In order: the
-- deterministic link (a valid NHS number whose patient has the same birth
-- date); then the best candidate by match weight among those without a
-- conflict (scr._link_conflict).  It links at or above scr.link_threshold.
-- A second clean candidate above the threshold makes it a question when the
-- record lacks a given name or birth date (which could tell a father from a
-- son, or twins apart); with both, the record links to the better and the
-- two patients are offered for merging (scr._link_duplicates).  Otherwise
-- the best candidate at or above scr.review_threshold goes to review with
-- the reason -- except that a pair with different valid NHS numbers that
-- also disagrees on given name, birth date or sex is two people: a new
-- patient, no review.
CREATE FUNCTION scr._link_person(d scr.person_demographics, p_deterministic boolean DEFAULT false,
                                 p_self bigint DEFAULT NULL,
                                 OUT patient_id bigint, OUT source_identifier_id bigint,
                                 OUT decision text,
                                 OUT score double precision, OUT levels smallint[],
                                 OUT reason text, OUT also_patient_id bigint,
                                 OUT also_source_identifier_id bigint,
                                 OUT also_score double precision, OUT also_levels smallint[])
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    k scr.link_keys;
    s record;
    t record;
    probs record;
    candidate record;
    found_count integer := 0;
    clean_count integer := 0;
    have_conflict boolean := false;
    worst_case record;
    best record;
    second record;
    second_score double precision;
BEGIN
    decision := 'new';
    IF d.nhs_number IS NOT NULL AND d.birth_date IS NOT NULL THEN
        SELECT coalesce(p.merged_into, p.patient_id) INTO patient_id
        FROM scr.patient_link_key lk JOIN scr.patient p ON p.patient_id = lk.patient_id
        WHERE lk.nhs_number = d.nhs_number AND lk.birth_date = d.birth_date;
        IF FOUND THEN
            decision := 'link';
            reason := 'NHS number and birth date';
            RETURN;
        END IF;
    END IF;
    IF p_deterministic THEN
        RETURN;
    END IF;

    s := scr.linkage_settings();
    t := scr.linkage_thresholds();
    probs := scr._linkage_probabilities();
    k := scr._link_keys(d);
    -- One pass over the candidates, best first: the best without a
    -- conflict is the one to link, a second clean one above the threshold
    -- makes it a question, and with no clean one the best of all says why.
    FOR candidate IN
        SELECT c.*, scr._link_conflict(c.levels, s.household_guard) AS conflict
        FROM scr._link_candidates(k, p_self, probs.m, probs.u, t.review_threshold) c
        ORDER BY c.score DESC
    LOOP
        IF NOT candidate.conflict THEN
            IF clean_count = 0 THEN
                best := candidate;
            ELSIF clean_count = 1 THEN
                second := candidate;
                second_score := candidate.score;
                EXIT;
            END IF;
            clean_count := clean_count + 1;
        ELSIF NOT have_conflict THEN
            worst_case := candidate;
            have_conflict := true;
        END IF;
        found_count := found_count + 1;
    END LOOP;
    IF found_count = 0 THEN
        RETURN;
    END IF;
    -- With no clean candidate worth asking about, the best conflicting one
    -- says why (a twin, a father or son) and goes to review.
    IF clean_count = 0 THEN
        best := worst_case;
    ELSIF best.score < t.review_threshold AND have_conflict THEN
        best := worst_case;
    END IF;
    IF best.score < t.review_threshold THEN
        RETURN;
    END IF;
    patient_id := best.patient_id;
    source_identifier_id := best.source_identifier_id;
    score := best.score;
    levels := best.levels;

    IF best.levels[7] = 2 AND (best.levels[1] = 5 OR best.levels[3] = 4 OR best.levels[4] = 2) THEN
        patient_id := NULL;
        source_identifier_id := NULL;
        reason := 'different NHS numbers and a different given name, birth date or sex';
        RETURN;
    END IF;
    decision := 'review';
    IF best.conflict AND best.levels[7] = 1 THEN
        reason := 'same NHS number, different birth date';
    ELSIF best.conflict AND best.levels[7] = 2 THEN
        reason := 'different NHS number';
    ELSIF best.conflict AND best.levels[1] = 5 THEN
        reason := 'different given name';
    ELSIF best.conflict AND best.levels[3] = 4 THEN
        reason := 'different birth date';
    ELSIF best.score < t.link_threshold THEN
        reason := 'match weight between the thresholds';
    ELSIF second_score >= t.link_threshold
          AND (d.birth_date IS NULL OR k.given_key IS NULL) THEN
        -- Without a birth date or given name to tell them apart, two
        -- patients this alike may be a father and son, or twins.
        reason := 'more than one patient above the link threshold';
    ELSIF second_score >= t.link_threshold THEN
        -- Two patients that agree with a full record, neither in conflict:
        -- most likely one person recorded twice.  Link to the better and
        -- ask whether the two patients are one.
        decision := 'link';
        reason := 'match weight';
        also_patient_id := second.patient_id;
        also_source_identifier_id := second.source_identifier_id;
        also_score := second.score;
        also_levels := second.levels;
    ELSE
        decision := 'link';
        reason := 'match weight';
    END IF;
END
$$;

-- A read-only look at what linkage would decide for a person message's
-- demographics, for operators and feed authors (it names patients).
CREATE FUNCTION scr.match_person(demographics jsonb, deterministic boolean DEFAULT false)
RETURNS TABLE (patient_id bigint, decision text, score double precision, reason text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    l record;
BEGIN
    PERFORM scr._linkage_check_operator('scr.match_person');
    l := scr._link_person(scr._parse_person(demographics), deterministic);
    RETURN QUERY SELECT l.patient_id, l.decision, l.score, l.reason;
END
$$;
COMMENT ON FUNCTION scr.match_person(jsonb, boolean) IS
    'operators: the patient a person message would link to, the decision (link, review, new), its match weight and reason; writes nothing';

-- The link review queue: pairs linkage could not decide.  The incoming
-- record got a patient of its own; an operator links, merges or keeps apart.
CREATE TABLE scr.link_review (
    patient_id          bigint NOT NULL REFERENCES scr.patient,  -- the record's patient
    link_review_id      bigint GENERATED ALWAYS AS IDENTITY,
    source_identifier_id bigint NOT NULL,
    candidate_patient_id bigint NOT NULL REFERENCES scr.patient,
    candidate_source_identifier_id bigint,
    kind                text NOT NULL CHECK (kind IN ('new_record', 'relink')),
    score               double precision NOT NULL,
    levels              smallint[] NOT NULL,
    reason              text NOT NULL,
    status              text NOT NULL DEFAULT 'open'
                        CHECK (status IN ('open', 'linked', 'merged', 'kept_apart', 'withdrawn')),
    created_at          timestamptz NOT NULL DEFAULT statement_timestamp(),
    decided_at          timestamptz,
    decided_by          name,
    note                text,
    PRIMARY KEY (patient_id, link_review_id),
    UNIQUE (link_review_id),
    CHECK ((status = 'open') = (decided_at IS NULL))
);
CREATE UNIQUE INDEX link_review_open_pair_idx ON scr.link_review (source_identifier_id, candidate_patient_id)
    WHERE status = 'open';
COMMENT ON TABLE scr.link_review IS
    'Linkage review queue: a record and the patient it may belong to, with the match weight and why it was not linked';

-- Decisions operators made about pairs, so that the same pair is not asked again.
CREATE TABLE scr.link_decision (
    patient_id          bigint NOT NULL REFERENCES scr.patient,
    other_patient_id    bigint NOT NULL REFERENCES scr.patient,
    decision            text NOT NULL CHECK (decision IN ('kept_apart')),
    link_review_id      bigint,
    decided_at          timestamptz NOT NULL DEFAULT statement_timestamp(),
    decided_by          name NOT NULL,
    PRIMARY KEY (patient_id, other_patient_id),
    CHECK (patient_id < other_patient_id)
);
COMMENT ON TABLE scr.link_decision IS 'Pairs of patients an operator decided are different people';

-- Whether an operator kept these two patients (or any of their merge
-- groups' members) apart.
CREATE FUNCTION scr._kept_apart(p_a bigint, p_b bigint) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, scr, pg_temp
RETURN EXISTS (
    SELECT FROM scr.link_decision ld
    JOIN scr.patient pa ON pa.patient_id = ld.patient_id
    JOIN scr.patient pb ON pb.patient_id = ld.other_patient_id
    WHERE (coalesce(pa.merged_into, pa.patient_id), coalesce(pb.merged_into, pb.patient_id))
          IN ((scr.current_patient_id(p_a), scr.current_patient_id(p_b)),
              (scr.current_patient_id(p_b), scr.current_patient_id(p_a))));

-- Put a pair in the review queue unless it is there already or was decided.
CREATE FUNCTION scr._queue_link_review(p_patient_id bigint, p_source_identifier_id bigint,
                                       p_kind text, p_candidate bigint, p_candidate_record bigint,
                                       p_score double precision, p_levels smallint[], p_reason text)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, scr, pg_temp AS $$
BEGIN
    IF scr._kept_apart(p_patient_id, p_candidate) THEN
        RETURN;
    END IF;
    INSERT INTO scr.link_review (patient_id, source_identifier_id, candidate_patient_id,
                                 candidate_source_identifier_id, kind, score, levels, reason)
    VALUES (p_patient_id, p_source_identifier_id, p_candidate, p_candidate_record, p_kind,
            p_score, p_levels, p_reason)
    ON CONFLICT (source_identifier_id, candidate_patient_id) WHERE status = 'open' DO NOTHING;
END
$$;

-- Merge one patient into another, on a source's word (scr.merge_patients),
-- linkage's or an operator's: the merge log names the record that caused it
-- and who merged.  Both patients are locked in a fixed order so that crossed
-- merges cannot deadlock; merged_into always names a survivor that is not
-- itself merged.
CREATE FUNCTION scr._merge_patient_roots(p_from bigint, p_to bigint, p_source text,
                                         p_from_local_id text, p_to_local_id text, p_by name)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    from_root bigint;
    to_root bigint;
BEGIN
    PERFORM 1 FROM scr.patient p WHERE p.patient_id IN (p_from, p_to) ORDER BY p.patient_id FOR UPDATE;
    from_root := scr.current_patient_id(p_from);
    to_root := scr.current_patient_id(p_to);
    IF from_root = to_root THEN
        RETURN to_root;
    END IF;
    PERFORM 1 FROM scr.patient p WHERE p.patient_id IN (from_root, to_root) ORDER BY p.patient_id FOR UPDATE;
    UPDATE scr.patient p SET merged_into = to_root, updated_at = statement_timestamp()
    WHERE p.patient_id = from_root OR p.merged_into = from_root;
    INSERT INTO scr.patient_merge (patient_id, into_patient_id, source_code, from_local_id,
                                   to_local_id, merged_by)
    VALUES (from_root, to_root, p_source, p_from_local_id, p_to_local_id, p_by);
    PERFORM scr._patient_refresh(to_root);
    RETURN to_root;
END
$$;

-- A new record matched two patients, neither in conflict with it: they are
-- most likely one person recorded twice, and the record is the new
-- information that shows it.  Merge them (reversibly: scr.unmerge_patients
-- on a record of the merged-away patient) when the two records it matched
-- also match each other without a conflict; otherwise ask, unless an
-- operator already kept them apart.  Either way the review
-- queue keeps the event.
CREATE FUNCTION scr._link_duplicates(p_patient_id bigint, p_source_identifier_id bigint,
                                     p_source text, p_local_id text, l record) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    between_them smallint[];
    probs record;
BEGIN
    IF scr._kept_apart(p_patient_id, l.also_patient_id) THEN
        RETURN;
    END IF;
    -- The two patients' records that the new one matched must not conflict
    -- with each other either.
    SELECT scr._pair_levels(a, b) INTO between_them
    FROM scr.source_identifier a, scr.source_identifier b
    WHERE a.source_identifier_id = l.source_identifier_id
      AND b.source_identifier_id = l.also_source_identifier_id;
    probs := scr._linkage_probabilities();
    IF scr._link_conflict(between_them, (scr.linkage_settings()).household_guard)
       OR scr._link_score(between_them, probs.m, probs.u, NULL, NULL)
          < (scr.linkage_thresholds()).link_threshold THEN
        PERFORM scr._queue_link_review(p_patient_id, p_source_identifier_id, 'new_record',
                                       l.also_patient_id, l.also_source_identifier_id, l.also_score,
                                       l.also_levels, 'also matches another patient, which conflicts with the first');
        RETURN;
    END IF;
    INSERT INTO scr.link_review (patient_id, source_identifier_id, candidate_patient_id,
                                 candidate_source_identifier_id, kind, score, levels, reason,
                                 status, decided_at, decided_by, note)
    VALUES (p_patient_id, p_source_identifier_id, l.also_patient_id, l.also_source_identifier_id,
            'new_record', l.also_score, l.also_levels, 'also matches another patient', 'merged',
            statement_timestamp(), (SELECT rolname FROM pg_roles WHERE oid = scr.feed_caller()),
            'merged by linkage: the record matched both patients');
    PERFORM scr._merge_patient_roots(l.also_patient_id, p_patient_id, p_source, NULL, p_local_id,
                                     (SELECT rolname FROM pg_roles WHERE oid = scr.feed_caller()));
    -- Questions about pairs that are now one patient are answered.
    UPDATE scr.link_review lr
    SET status = 'withdrawn', decided_at = statement_timestamp(),
        decided_by = (SELECT rolname FROM pg_roles WHERE oid = scr.feed_caller()),
        note = 'answered by linkage: merged'
    WHERE lr.status = 'open' AND lr.kind = 'new_record'
      AND scr.current_patient_id(lr.patient_id) = scr.current_patient_id(lr.candidate_patient_id);
END
$$;

-- A source sent changed demographics for a record already linked.  If the
-- record no longer matches the rest of its patient (no record of the
-- patient at or above the review threshold without a conflict), the link
-- goes back to review.  If it still does and now also matches another
-- patient cleanly above the link threshold, the new information shows the
-- two patients are one: merged as scr._link_duplicates decides.
CREATE FUNCTION scr._relink(p_record_patient bigint, p_record bigint, d scr.person_demographics,
                            p_source text, p_local_id text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, scr, pg_temp SET enable_seqscan = off AS $$
DECLARE
    root bigint := scr.current_patient_id(p_record_patient);
    t record := scr.linkage_thresholds();
    guard boolean := (scr.linkage_settings()).household_guard;
    probs record := scr._linkage_probabilities();
    candidate record;
    top record;
    records integer := 0;
    still_matches bigint;
    l record;
BEGIN
    -- The other records of its patient, best match first.
    FOR candidate IN
        SELECT o.source_identifier_id, pl.lv AS levels,
               scr._link_score(pl.lv, probs.m, probs.u, NULL, NULL) AS score,
               scr._link_conflict(pl.lv, guard) AS conflict
        FROM scr.source_identifier me
        JOIN scr.source_identifier o
          ON o.patient_id IN (SELECT root UNION ALL
                              SELECT p.patient_id FROM scr.patient p WHERE p.merged_into = root)
         AND o.source_identifier_id <> me.source_identifier_id
        CROSS JOIN LATERAL (SELECT scr._pair_levels(me, o) AS lv) pl
        WHERE me.patient_id = p_record_patient AND me.source_identifier_id = p_record
        ORDER BY 3 DESC
    LOOP
        records := records + 1;
        IF records = 1 THEN
            top := candidate;
        END IF;
        IF NOT candidate.conflict AND candidate.score >= t.review_threshold THEN
            still_matches := candidate.source_identifier_id;
            EXIT;
        END IF;
    END LOOP;
    IF records > 0 AND still_matches IS NULL THEN
        PERFORM scr._queue_link_review(p_record_patient, p_record, 'relink', root, top.source_identifier_id,
                                       top.score, top.levels,
                                       'the source changed the demographics: the record no longer matches its patient');
        RETURN;
    END IF;
    l := scr._link_person(d, false, p_record);
    IF l.decision = 'link' AND l.patient_id <> root AND l.source_identifier_id IS NULL THEN
        -- The corrected record's NHS number and birth date name another
        -- patient: a question, not a merge.
        PERFORM scr._queue_link_review(p_record_patient, p_record, 'relink', l.patient_id, NULL, 0,
                                       '{0,0,1,0,0,0,1}'::smallint[],
                                       'the corrected NHS number and birth date belong to another patient');
    ELSIF l.decision = 'link' AND l.patient_id <> root THEN
        PERFORM scr._link_duplicates(root, p_record, p_source, p_local_id,
                                     (SELECT r FROM (SELECT coalesce(still_matches, p_record) AS source_identifier_id,
                                                            l.patient_id AS also_patient_id,
                                                            l.source_identifier_id AS also_source_identifier_id,
                                                            l.score AS also_score, l.levels AS also_levels) r));
    END IF;
END
$$;

-- Resolve a review: 'link' (the record is that patient: its patient is
-- merged into the candidate), 'merge' (the same, for two established
-- patients), or 'keep_apart' (two people; remembered).  Reversible: a link
-- or merge is undone with scr.unmerge_patients on the record's source and
-- local id.
CREATE FUNCTION scr.resolve_link_review(link_review_id bigint, decision text, note text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    r scr.link_review;
    si record;
    survivor bigint;
    by_role name := session_user;
BEGIN
    PERFORM scr._linkage_check_operator('scr.resolve_link_review');
    IF decision IS NULL OR decision NOT IN ('link', 'merge', 'keep_apart') THEN
        RAISE EXCEPTION 'decision must be link, merge or keep_apart, not %', coalesce(quote_literal(decision), 'null')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO r FROM scr.link_review lr WHERE lr.link_review_id = resolve_link_review.link_review_id
    FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'link review % does not exist', resolve_link_review.link_review_id
            USING ERRCODE = 'no_data_found';
    END IF;
    IF r.status <> 'open' THEN
        RAISE EXCEPTION 'link review % is already resolved (%)', r.link_review_id, r.status
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Decided by %s.', r.decided_by);
    END IF;
    SELECT s.source_code, s.local_id INTO si FROM scr.source_identifier s
    WHERE s.source_identifier_id = r.source_identifier_id;
    IF r.kind = 'relink' AND decision = 'merge' THEN
        RAISE EXCEPTION 'link review % asks whether a record still belongs to its patient: answer link (it does) or keep_apart (it does not)',
                        r.link_review_id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF r.kind = 'relink' AND decision = 'keep_apart' THEN
        -- The record is not this patient: undo the merge that brought it.
        IF NOT EXISTS (SELECT FROM scr.patient_merge pm
                       WHERE pm.patient_id = r.patient_id AND pm.unmerged_at IS NULL) THEN
            RAISE EXCEPTION 'the record of link review % did not come to its patient by a merge', r.link_review_id
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = 'It was linked by its NHS number and birth date, or is the patient''s first record.',
                      HINT = 'Its source moves it: the person re-sent under a new local id.';
        END IF;
        survivor := scr.current_patient_id(r.patient_id);
        PERFORM scr._unmerge_patient(r.patient_id, by_role);
        r.candidate_patient_id := survivor;
    END IF;

    IF decision = 'keep_apart' THEN
        INSERT INTO scr.link_decision (patient_id, other_patient_id, decision, link_review_id, decided_by)
        VALUES (least(r.patient_id, r.candidate_patient_id), greatest(r.patient_id, r.candidate_patient_id),
                'kept_apart', r.link_review_id, by_role)
        ON CONFLICT (patient_id, other_patient_id) DO NOTHING;
        survivor := scr.current_patient_id(r.patient_id);
    ELSE
        survivor := scr._merge_patient_roots(r.patient_id, r.candidate_patient_id, si.source_code,
                                             si.local_id, NULL, by_role);
        UPDATE scr.source_identifier s SET link_method = 'manual'
        WHERE s.source_identifier_id = r.source_identifier_id AND decision = 'link';
    END IF;
    UPDATE scr.link_review lr
    SET status = CASE decision WHEN 'link' THEN 'linked' WHEN 'merge' THEN 'merged' ELSE 'kept_apart' END,
        decided_at = statement_timestamp(), decided_by = by_role, note = resolve_link_review.note
    WHERE lr.patient_id = r.patient_id AND lr.link_review_id = r.link_review_id;
    -- Other open questions about the same pair are answered too.
    UPDATE scr.link_review lr
    SET status = 'withdrawn', decided_at = statement_timestamp(), decided_by = by_role,
        note = format('answered by link review %s', r.link_review_id)
    WHERE lr.status = 'open' AND lr.kind = 'new_record' AND lr.link_review_id <> r.link_review_id
      AND scr.current_patient_id(lr.patient_id) = scr.current_patient_id(lr.candidate_patient_id);
    RETURN survivor;
END
$$;
COMMENT ON FUNCTION scr.resolve_link_review(bigint, text, text) IS
    'operators: decide a link review: link, merge or keep_apart; returns the patient the record belongs to';

-- Operators: undo the latest merge that took this patient into another
-- (a source's, linkage's or an operator's), and remember that the two are
-- different people so that linkage does not join them again.
CREATE FUNCTION scr.undo_merge(patient_id bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    former bigint;
BEGIN
    PERFORM scr._linkage_check_operator('scr.undo_merge');
    SELECT p.merged_into INTO former FROM scr.patient p WHERE p.patient_id = undo_merge.patient_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'patient % does not exist', undo_merge.patient_id USING ERRCODE = 'no_data_found';
    END IF;
    IF former IS NULL THEN
        RAISE EXCEPTION 'patient % is not merged into another', undo_merge.patient_id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM scr._unmerge_patient(undo_merge.patient_id, session_user);
    INSERT INTO scr.link_decision (patient_id, other_patient_id, decision, decided_by)
    VALUES (least(undo_merge.patient_id, former), greatest(undo_merge.patient_id, former), 'kept_apart', session_user)
    ON CONFLICT ON CONSTRAINT link_decision_pkey DO NOTHING;
    RETURN undo_merge.patient_id;
END
$$;
COMMENT ON FUNCTION scr.undo_merge(bigint) IS
    'operators: undo the latest merge that took this patient into another, and keep the two apart; returns the patient';

-- Caller check for the operators' linkage functions (they read every
-- patient's demographics).
CREATE FUNCTION scr._linkage_check_operator(p_function text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, scr, pg_temp AS $$
BEGIN
    PERFORM scr._check_session_role('scr_admin', p_function, 'Linkage is for operators: members of scr_admin.');
END
$$;

-- The comparison levels and weights of any two demographic records (feed
-- message shape): why linkage would or would not join them.
CREATE FUNCTION scr.explain_match(a jsonb, b jsonb)
RETURNS TABLE (comparison text, level smallint, label text, weight double precision)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    ka scr.link_keys;
    kb scr.link_keys;
    lv smallint[];
    w double precision[];
    probs record;
    t record;
    total double precision;
BEGIN
    PERFORM scr._linkage_check_operator('scr.explain_match');
    ka := scr._link_keys(scr._parse_person(a));
    kb := scr._link_keys(scr._parse_person(b));
    lv := scr._link_levels(ka.given_key, ka.family_key, ka.given_phonetic, ka.family_phonetic,
                           ka.birth_date, ka.sex, ka.postcode_key, ka.address_key, ka.nhs_number,
                           ka.given_aliases,
                           kb.given_key, kb.family_key, kb.given_phonetic, kb.family_phonetic,
                           kb.birth_date, kb.sex, kb.postcode_key, kb.address_key, kb.nhs_number);
    probs := scr._linkage_probabilities();
    t := scr.linkage_thresholds();
    w := scr._link_weights(lv, probs.m, probs.u, ka.tf_given, ka.tf_family);
    total := (SELECT sum(x) FROM unnest(w) x);
    RETURN QUERY
    SELECT x.comparison, x.level, x.label, x.weight FROM (
    SELECT c.n, c.comparison, lv[c.n] AS level, coalesce(d.label, 'missing') AS label, w[c.n] AS weight
    FROM unnest(ARRAY['given_name', 'family_name', 'birth_date', 'sex', 'postcode', 'address',
                      'nhs_number']) WITH ORDINALITY AS c(comparison, n)
    LEFT JOIN scr.linkage_weight_default d ON d.comparison = c.comparison AND d.level = lv[c.n]
    UNION ALL
    SELECT 8, 'total', NULL::smallint,
           CASE WHEN total >= t.link_threshold THEN 'at or above the link threshold'
                WHEN total >= t.review_threshold THEN 'between the thresholds'
                ELSE 'below the review threshold' END,
           total) x
    ORDER BY x.n;
END
$$;
COMMENT ON FUNCTION scr.explain_match(jsonb, jsonb) IS
    'operators: the comparison levels and match weights of two demographic records, and their total';

-- Recount how common each given and family name is.
CREATE FUNCTION scr.refresh_linkage_term_frequencies() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    PERFORM scr._linkage_check_operator('scr.refresh_linkage_term_frequencies');
    DELETE FROM scr.linkage_term_frequency;
    INSERT INTO scr.linkage_term_frequency (comparison, value, frequency)
    SELECT 'given_name', si.given_key, count(*)::double precision / sum(count(*)) OVER ()
    FROM scr.source_identifier si WHERE si.given_key IS NOT NULL GROUP BY si.given_key
    UNION ALL
    SELECT 'family_name', si.family_key, count(*)::double precision / sum(count(*)) OVER ()
    FROM scr.source_identifier si WHERE si.family_key IS NOT NULL GROUP BY si.family_key;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
COMMENT ON FUNCTION scr.refresh_linkage_term_frequencies() IS
    'operators: recount the share of records with each given and family name; returns the number of names';

-- Comparison levels of pairs of records, for estimation.
CREATE FUNCTION scr._pair_levels(a scr.source_identifier, b scr.source_identifier) RETURNS smallint[]
LANGUAGE sql STABLE PARALLEL SAFE
RETURN scr._link_levels(a.given_key, a.family_key, a.given_phonetic, a.family_phonetic,
                        a.birth_date, a.sex, a.postcode_key, a.address_key, a.nhs_number,
                        ARRAY(SELECT n.alias FROM scr.linkage_nickname n
                              WHERE n.name = split_part(a.given_key, ' ', 1)
                              UNION SELECT n.name FROM scr.linkage_nickname n
                              WHERE n.alias = split_part(a.given_key, ' ', 1)),
                        b.given_key, b.family_key, b.given_phonetic, b.family_phonetic,
                        b.birth_date, b.sex, b.postcode_key, b.address_key, b.nhs_number);

-- Expectation-maximisation of m over the level patterns in pg_temp.em_pattern
-- (levels, pairs), u fixed: returns the new m vector.  Only the comparisons
-- in p_estimate change; the others keep their m.
CREATE FUNCTION scr._linkage_em(p_m double precision[], p_u double precision[], p_estimate int[],
                                p_iterations integer) RETURNS double precision[]
LANGUAGE plpgsql SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    m double precision[] := p_m;
    lambda double precision := 0.01;
    i integer;
    est record;
BEGIN
    FOR i IN 1 .. p_iterations LOOP
        UPDATE pg_temp.em_pattern SET p = 1.0 / (1.0 + (1.0 - lambda) / lambda
                                                  * power(2.0, -least(greatest(scr._link_score(levels, m, p_u, NULL, NULL), -60), 60)));
        SELECT sum(e.pairs * e.p) / sum(e.pairs) INTO lambda FROM pg_temp.em_pattern e;
        lambda := least(greatest(lambda, 1e-6), 1 - 1e-6);
        FOR est IN
            SELECT c.n AS comparison, l.level,
                   (sum(e.pairs * e.p) FILTER (WHERE e.levels[c.n] = l.level) + 0.01)
                   / (sum(e.pairs * e.p) FILTER (WHERE e.levels[c.n] <> 0) + 0.06) AS m
            FROM pg_temp.em_pattern e, unnest(p_estimate) AS c(n), generate_series(1, 6) AS l(level)
            GROUP BY c.n, l.level
            HAVING sum(e.pairs) FILTER (WHERE e.levels[c.n] <> 0) >= 50
        LOOP
            m[(est.comparison - 1) * 6 + est.level] := least(greatest(est.m, 1e-6), 1 - 1e-6);
        END LOOP;
    END LOOP;
    RETURN m;
END
$$;

-- Estimate the match probabilities from the records already loaded, as
-- Splink does: u from random pairs (nearly all non-matches); m by
-- expectation-maximisation over blocked pairs, once blocked on birth date
-- (for every comparison but birth date) and once on the names' phonetic
-- codes (for birth date).  The result replaces scr.linkage_weight; levels
-- the data says too little about keep their defaults.
CREATE FUNCTION scr.estimate_linkage_weights(sample_pairs integer DEFAULT 1000000,
                                             iterations integer DEFAULT 20)
RETURNS TABLE (comparison text, level smallint, m double precision, u double precision,
               weight double precision)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    side integer := greatest(ceil(sqrt(greatest(sample_pairs, 10000)))::integer, 100);
    probs record := scr._linkage_probabilities();
    mv double precision[] := probs.m;
    uv double precision[] := probs.u;
    est record;
    names text[] := ARRAY['given_name', 'family_name', 'birth_date', 'sex', 'postcode', 'address', 'nhs_number'];
BEGIN
    PERFORM scr._linkage_check_operator('scr.estimate_linkage_weights');
    IF iterations IS NULL OR iterations < 1 OR iterations > 1000 THEN
        RAISE EXCEPTION 'iterations must be between 1 and 1000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM scr.refresh_linkage_term_frequencies();

    -- u: random pairs of records of different patients (merge groups).
    IF to_regclass('pg_temp.em_pattern') IS NOT NULL THEN
        DROP TABLE pg_temp.em_pattern;
    END IF;
    CREATE TEMP TABLE em_pattern (levels smallint[], pairs double precision, p double precision);
    INSERT INTO pg_temp.em_pattern (levels, pairs)
    SELECT scr._pair_levels(a.si, b.si), count(*)
    FROM (SELECT si, coalesce(p.merged_into, p.patient_id) AS root
          FROM scr.source_identifier si JOIN scr.patient p ON p.patient_id = si.patient_id
          ORDER BY random() LIMIT side) a
    CROSS JOIN (SELECT si, coalesce(p.merged_into, p.patient_id) AS root
                FROM scr.source_identifier si JOIN scr.patient p ON p.patient_id = si.patient_id
                ORDER BY random() LIMIT side) b
    WHERE a.root <> b.root
    GROUP BY 1;
    FOR est IN
        SELECT c.n AS comparison, l.level,
               (sum(e.pairs) FILTER (WHERE e.levels[c.n] = l.level) + 0.5)
               / (sum(e.pairs) FILTER (WHERE e.levels[c.n] <> 0) + 3) AS u
        FROM pg_temp.em_pattern e, generate_series(1, 7) AS c(n), generate_series(1, 6) AS l(level)
        GROUP BY c.n, l.level
        HAVING sum(e.pairs) FILTER (WHERE e.levels[c.n] <> 0) >= 1000
    LOOP
        uv[(est.comparison - 1) * 6 + est.level] := least(greatest(est.u, 1e-7), 1 - 1e-7);
    END LOOP;

    -- m, blocked on birth date.
    TRUNCATE pg_temp.em_pattern;
    INSERT INTO pg_temp.em_pattern (levels, pairs)
    SELECT scr._pair_levels(a, b), count(*)
    FROM (SELECT * FROM scr.source_identifier WHERE birth_date IS NOT NULL ORDER BY random() LIMIT side * 10) a
    JOIN scr.source_identifier b ON b.birth_date = a.birth_date AND b.source_identifier_id <> a.source_identifier_id
    GROUP BY 1;
    mv := scr._linkage_em(mv, uv, ARRAY[1, 2, 4, 5, 6, 7], iterations);
    -- m for birth date, blocked on the names.
    TRUNCATE pg_temp.em_pattern;
    INSERT INTO pg_temp.em_pattern (levels, pairs)
    SELECT scr._pair_levels(a, b), count(*)
    FROM (SELECT * FROM scr.source_identifier WHERE given_phonetic IS NOT NULL AND family_phonetic IS NOT NULL
          ORDER BY random() LIMIT side * 10) a
    JOIN scr.source_identifier b ON b.given_phonetic = a.given_phonetic AND b.family_phonetic = a.family_phonetic
                                AND b.source_identifier_id <> a.source_identifier_id
    GROUP BY 1;
    mv := scr._linkage_em(mv, uv, ARRAY[3], iterations);
    DROP TABLE pg_temp.em_pattern;

    DELETE FROM scr.linkage_weight;
    INSERT INTO scr.linkage_weight (comparison, level, m, u)
    SELECT d.comparison, d.level, mv[(array_position(names, d.comparison) - 1) * 6 + d.level],
           uv[(array_position(names, d.comparison) - 1) * 6 + d.level]
    FROM scr.linkage_weight_default d;
    RETURN QUERY
    SELECT w.comparison, w.level, w.m, w.u, log(2.0, (w.m / w.u)::numeric)::double precision
    FROM scr.linkage_weight w
    ORDER BY array_position(names, w.comparison), w.level;
END
$$;
COMMENT ON FUNCTION scr.estimate_linkage_weights(integer, integer) IS
    'operators: estimate the match probabilities from the loaded records (u from random pairs, m by EM over blocked pairs) into scr.linkage_weight';

-- The review queue as an operator reads it: both records and the weight
-- of each comparison.
CREATE VIEW scr.link_review_queue AS
SELECT lr.link_review_id, lr.kind, lr.status, lr.reason, lr.score, lr.created_at,
       lr.decided_at, lr.decided_by, lr.note,
       a.source_code, a.local_id, lr.patient_id,
       a.nhs_number, a.given_name, a.family_name, a.birth_date, a.sex, a.postcode, a.address,
       b.source_code AS candidate_source_code, b.local_id AS candidate_local_id,
       lr.candidate_patient_id,
       b.nhs_number AS candidate_nhs_number, b.given_name AS candidate_given_name,
       b.family_name AS candidate_family_name, b.birth_date AS candidate_birth_date,
       b.sex AS candidate_sex, b.postcode AS candidate_postcode, b.address AS candidate_address,
       (SELECT jsonb_object_agg(c.comparison, jsonb_build_object('level', lr.levels[c.n], 'weight', round(w.w[c.n]::numeric, 2)))
        FROM unnest(ARRAY['given_name', 'family_name', 'birth_date', 'sex', 'postcode', 'address',
                          'nhs_number']) WITH ORDINALITY AS c(comparison, n),
             (SELECT scr._link_weights(lr.levels, (pr).m, (pr).u, NULL, NULL) AS w
              FROM (SELECT scr._linkage_probabilities() AS pr) p) w) AS breakdown
FROM scr.link_review lr
JOIN scr.source_identifier a ON a.source_identifier_id = lr.source_identifier_id
LEFT JOIN scr.source_identifier b ON b.source_identifier_id = lr.candidate_source_identifier_id;
COMMENT ON VIEW scr.link_review_queue IS
    'operators: the link review queue with both records side by side and the weight of each comparison';

-- Privileges: the matcher's internals are for the extension's own functions;
-- operators use the public entry points.
REVOKE ALL ON FUNCTION scr._linkage_probabilities(), scr._link_levels(text, text, text, text, date, text, text, text, scr.nhs_number, text[], text, text, text, text, date, text, text, text, scr.nhs_number),
    scr._link_weights(smallint[], double precision[], double precision[], double precision, double precision),
    scr._link_score(smallint[], double precision[], double precision[], double precision, double precision),
    scr._link_person(scr.person_demographics, boolean, bigint), scr._kept_apart(bigint, bigint),
    scr._queue_link_review(bigint, bigint, text, bigint, bigint, double precision, smallint[], text),
    scr._merge_patient_roots(bigint, bigint, text, text, text, name),
    scr._link_duplicates(bigint, bigint, text, text, record), scr._link_conflict(smallint[], boolean),
    scr._relink(bigint, bigint, scr.person_demographics, text, text),
    scr._linkage_check_operator(text), scr._pair_levels(scr.source_identifier, scr.source_identifier),
    scr._linkage_em(double precision[], double precision[], integer[], integer),
    scr.match_person(jsonb, boolean), scr.resolve_link_review(bigint, text, text),
    scr.explain_match(jsonb, jsonb), scr.refresh_linkage_term_frequencies(),
    scr.estimate_linkage_weights(integer, integer), scr.undo_merge(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scr.match_person(jsonb, boolean), scr.resolve_link_review(bigint, text, text),
    scr.explain_match(jsonb, jsonb), scr.refresh_linkage_term_frequencies(),
    scr.estimate_linkage_weights(integer, integer), scr.undo_merge(bigint) TO scr_admin;

REVOKE ALL ON scr.linkage_blocking_rule, scr.linkage_weight_default, scr.linkage_weight,
    scr.linkage_nickname, scr.linkage_term_frequency, scr.link_review, scr.link_decision,
    scr.link_review_queue FROM PUBLIC;
GRANT SELECT ON scr.linkage_blocking_rule, scr.linkage_weight_default, scr.linkage_weight,
    scr.linkage_nickname, scr.linkage_term_frequency, scr.link_review, scr.link_decision,
    scr.link_review_queue TO scr_admin;
GRANT INSERT, UPDATE, DELETE ON scr.linkage_weight, scr.linkage_nickname TO scr_admin;

ALTER TABLE scr.link_review ENABLE ROW LEVEL SECURITY;
ALTER TABLE scr.link_review FORCE ROW LEVEL SECURITY;
ALTER TABLE scr.link_decision ENABLE ROW LEVEL SECURITY;
ALTER TABLE scr.link_decision FORCE ROW LEVEL SECURITY;
CREATE POLICY link_review_admin ON scr.link_review FOR SELECT TO scr_admin USING (true);
CREATE POLICY link_decision_admin ON scr.link_decision FOR SELECT TO scr_admin USING (true);

SELECT pg_catalog.pg_extension_config_dump('scr.linkage_weight', '');
SELECT pg_catalog.pg_extension_config_dump('scr.linkage_nickname', 'WHERE NOT shipped');
SELECT pg_catalog.pg_extension_config_dump('scr.linkage_term_frequency', '');
SELECT pg_catalog.pg_extension_config_dump('scr.link_review', '');
SELECT pg_catalog.pg_extension_config_dump('scr.link_decision', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('scr.link_review', 'link_review_id'), '');
