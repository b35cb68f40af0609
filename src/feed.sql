-- Feed functions: the only way feeds write to the record (src/feed.c).
--
-- The public functions are SECURITY DEFINER with a pinned search_path,
-- revoked from PUBLIC and granted to scr_feed; each checks that the calling
-- role is bound to the source it writes for.  The internal functions
-- (scr._*) do the work and are callable by nobody but the owner.

CREATE FUNCTION scr.feed_caller() RETURNS oid
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION scr.feed_caller() IS
    'the role calling a SECURITY DEFINER feed function (the session''s current role outside it)';

-- Refuse a caller not bound to the source, or an inactive source.  Returns
-- the source's organisation.  Every failure here is 42501 or 22023 and
-- names the source, never patient data.
CREATE FUNCTION scr._feed_check_source(p_source text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    caller oid := scr.feed_caller();
    src record;
BEGIN
    IF p_source IS NULL THEN
        RAISE EXCEPTION 'source must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT s.ods_code, s.active INTO src FROM scr.source_system s WHERE s.source_code = p_source;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown source system "%"', p_source
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'An operator registers sources in scr.source_system.';
    END IF;
    IF NOT EXISTS (SELECT FROM scr.feed_binding b
                   JOIN pg_roles r ON r.rolname = b.role_name
                   WHERE b.source_code = p_source
                     AND pg_has_role(caller, r.oid, 'MEMBER')) THEN
        RAISE EXCEPTION 'role "%" may not write for source "%"',
                        (SELECT rolname FROM pg_roles WHERE oid = caller), p_source
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'An operator binds feed roles to sources in scr.feed_binding.';
    END IF;
    IF NOT src.active THEN
        RAISE EXCEPTION 'source system "%" is not active', p_source
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN src.ods_code;
END
$$;

-- The small helpers below (scr._feed_*, scr._entry_raise) carry no SET
-- search_path: nobody but the owner may execute them, and they run inside
-- the feed functions, whose search_path is pinned; a SET clause would cost a
-- configuration save and restore on every call of the hottest code.

-- The checks every message shares: present, an object, not too big, only
-- known keys.
CREATE FUNCTION scr._feed_check_message(p_what text, p_message jsonb, p_keys text[])
RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    unknown text[];
    limit_bytes bigint := pg_size_bytes(current_setting('scr.max_message_size'));
BEGIN
    IF p_message IS NULL THEN
        RAISE EXCEPTION '% must not be null', p_what USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF jsonb_typeof(p_message) <> 'object' THEN
        RAISE EXCEPTION '% must be a JSON object, not %', p_what, jsonb_typeof(p_message)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF pg_column_size(p_message) > limit_bytes THEN
        RAISE EXCEPTION '% is too large', p_what
            USING ERRCODE = 'program_limit_exceeded',
                  DETAIL = format('It takes %s bytes; the limit is %s.', pg_column_size(p_message), limit_bytes),
                  HINT = 'A superuser can raise scr.max_message_size.';
    END IF;
    SELECT array_agg(k ORDER BY k) INTO unknown
    FROM jsonb_object_keys(p_message) AS k WHERE k <> ALL (p_keys);
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION '% has unknown key "%"', p_what, unknown[1]
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Known keys: ' || array_to_string(p_keys, ', ') || '.';
    END IF;
END
$$;

-- A source's identifier for a person, trimmed of spaces as every key is:
-- present, not blank, at most 128 characters.
CREATE FUNCTION scr._feed_local_id(p_local_id text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    t text := btrim(p_local_id, ' ');
BEGIN
    IF t IS NULL OR t = '' THEN
        RAISE EXCEPTION 'local_id must not be null or blank' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF length(t) > 128 THEN
        RAISE EXCEPTION 'local_id is too long'
            USING ERRCODE = 'string_data_right_truncation',
                  DETAIL = format('It has %s characters; the limit is 128.', length(t));
    END IF;
    RETURN t;
END
$$;

-- A string-valued key, trimmed; NULL when absent, JSON null or blank.
CREATE FUNCTION scr._feed_text(p_message jsonb, p_key text, p_max integer DEFAULT 1000)
RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v jsonb := p_message -> p_key;
    t text;
BEGIN
    IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(v) <> 'string' THEN
        RAISE EXCEPTION 'key "%" must be a string, not %', p_key, jsonb_typeof(v)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    t := btrim(v #>> '{}');
    IF length(t) > p_max THEN
        RAISE EXCEPTION 'key "%" is too long', p_key
            USING ERRCODE = 'string_data_right_truncation',
                  DETAIL = format('It has %s characters; the limit is %s.', length(t), p_max);
    END IF;
    RETURN nullif(t, '');
END
$$;

-- A calendar date given as YYYY-MM-DD, between 1850 and today.
CREATE FUNCTION scr._feed_date(p_message jsonb, p_key text) RETURNS date
LANGUAGE plpgsql STABLE AS $$
DECLARE
    t text := scr._feed_text(p_message, p_key, 10);
    d date;
    y integer;
    m integer;
    dd integer;
BEGIN
    IF t IS NULL THEN
        RETURN NULL;
    END IF;
    IF t !~ '^\d{4}-\d{2}-\d{2}$' THEN
        RAISE EXCEPTION 'key "%" is not a date: "%"', p_key, t
            USING ERRCODE = 'invalid_datetime_format',
                  HINT = 'Dates are ISO 8601: YYYY-MM-DD.';
    END IF;
    -- Day 31 of a 30-day month rolls into the next month: not a real date.
    -- (No exception block: that would cost a subtransaction per date.)
    y := substr(t, 1, 4)::integer;
    m := substr(t, 6, 2)::integer;
    dd := substr(t, 9, 2)::integer;
    IF y >= 1 AND m BETWEEN 1 AND 12 AND dd >= 1 THEN
        d := make_date(y, m, 1) + (dd - 1);
    END IF;
    IF d IS NULL OR extract(month FROM d) <> m THEN
        RAISE EXCEPTION 'key "%" is not a real date: "%"', p_key, t
            USING ERRCODE = 'datetime_field_overflow';
    END IF;
    IF d < date '1850-01-01' OR d > current_date THEN
        RAISE EXCEPTION 'key "%" is out of range: "%"', p_key, t
            USING ERRCODE = 'datetime_field_overflow',
                  DETAIL = 'Dates must lie between 1850-01-01 and today.';
    END IF;
    RETURN d;
END
$$;

-- Recompute a patient's golden demographic record from every source
-- identifier linked to it (and to patients merged into it).  Survivorship:
-- for each field, the value from the source with the lowest trust rank that
-- sent one; ties go to the most recently received.  A verified NHS number
-- (status 01) beats an unverified one whatever the rank.
CREATE FUNCTION scr._patient_refresh(p_patient_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, scr, pg_temp SET enable_seqscan = off AS $$
DECLARE
    members bigint[];
BEGIN
    -- The patient and those merged into it, looked up by key.  During a bulk
    -- load the statistics lag far behind the tables, and this was planned as
    -- a scan of every source identifier per person (hence enable_seqscan =
    -- off above: every lookup here has an index).
    members := p_patient_id || ARRAY(SELECT p.patient_id FROM scr.patient p
                                     WHERE p.merged_into = p_patient_id);
    WITH ids AS (
        SELECT si.*, coalesce(ss.trust_rank, scr.default_trust_rank(ss.kind)) AS rank,
               coalesce(si.nhs_number_status = '01', false) AS verified
        FROM scr.source_identifier si
        JOIN scr.source_system ss USING (source_code)
        WHERE si.patient_id = ANY (members)
    ), best AS (
        SELECT
            (array_agg(nhs_number ORDER BY verified DESC, rank, received_at DESC)
                FILTER (WHERE nhs_number IS NOT NULL))[1] AS nhs_number,
            (array_agg(nhs_number_status ORDER BY verified DESC, rank, received_at DESC)
                FILTER (WHERE nhs_number IS NOT NULL))[1] AS nhs_number_status,
            (array_agg(given_name ORDER BY rank, received_at DESC) FILTER (WHERE given_name IS NOT NULL))[1] AS given_name,
            (array_agg(family_name ORDER BY rank, received_at DESC) FILTER (WHERE family_name IS NOT NULL))[1] AS family_name,
            (array_agg(birth_date ORDER BY rank, received_at DESC) FILTER (WHERE birth_date IS NOT NULL))[1] AS birth_date,
            (array_agg(sex ORDER BY rank, received_at DESC) FILTER (WHERE sex IS NOT NULL))[1] AS sex,
            (array_agg(postcode ORDER BY received_at DESC, rank) FILTER (WHERE postcode IS NOT NULL))[1] AS postcode,
            (array_agg(address ORDER BY received_at DESC, rank) FILTER (WHERE address IS NOT NULL))[1] AS address,
            (array_agg(death_date ORDER BY rank, received_at DESC) FILTER (WHERE death_date IS NOT NULL))[1] AS death_date,
            (array_agg(gp_practice ORDER BY rank, received_at DESC) FILTER (WHERE gp_practice IS NOT NULL))[1] AS gp_practice
        FROM ids
    )
    UPDATE scr.patient p
    SET nhs_number = b.nhs_number, nhs_number_status = b.nhs_number_status,
        given_name = b.given_name, family_name = b.family_name, birth_date = b.birth_date,
        sex = b.sex, postcode = b.postcode, address = b.address,
        death_date = b.death_date, gp_practice = b.gp_practice,
        updated_at = statement_timestamp()
    FROM best b
    WHERE p.patient_id = p_patient_id;
END
$$;

-- The patient a record has become: itself, or the patient it was merged into.
CREATE FUNCTION scr.current_patient_id(p_patient_id bigint) RETURNS bigint
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, scr, pg_temp AS $$
BEGIN
    RETURN (SELECT coalesce(p.merged_into, p.patient_id) FROM scr.patient p
            WHERE p.patient_id = p_patient_id);
END
$$;

-- A person message's demographics, checked and parsed: every refusal here
-- is the message's fault (22xxx), raised before anything is written.
CREATE TYPE scr.person_demographics AS (
    nhs_number          scr.nhs_number,
    nhs_number_received text,
    nhs_number_problem  text,
    nhs_number_status   text,
    given_name          text,
    family_name         text,
    birth_date          date,
    death_date          date,
    sex                 text,
    postcode            text,
    address             text,
    gp_practice         text
);
COMMENT ON TYPE scr.person_demographics IS 'A person''s demographics as a feed message gives them, parsed and checked';

CREATE FUNCTION scr._parse_person(p_demographics jsonb) RETURNS scr.person_demographics
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    d scr.person_demographics;
BEGIN
    PERFORM scr._feed_check_message('demographics', p_demographics,
        ARRAY['nhs_number', 'nhs_number_status', 'given_name', 'family_name', 'birth_date',
              'sex', 'postcode', 'address', 'death_date', 'gp_practice']);
    d.nhs_number_received := scr._feed_text(p_demographics, 'nhs_number', 64);
    IF d.nhs_number_received IS NOT NULL THEN
        d.nhs_number_problem := scr.nhs_number_problem(d.nhs_number_received);
        IF d.nhs_number_problem IS NULL THEN
            d.nhs_number := d.nhs_number_received::scr.nhs_number;
            IF scr.nhs_number_range(d.nhs_number) = 'test'
               AND NOT current_setting('scr.allow_test_nhs_numbers')::boolean THEN
                RAISE EXCEPTION 'NHS number % is in the test range', d.nhs_number
                    USING ERRCODE = 'invalid_parameter_value',
                          DETAIL = 'Numbers beginning 999 are for testing and are refused in a live record.',
                          HINT = 'A superuser can set scr.allow_test_nhs_numbers = on for test data.';
            END IF;
        END IF;
    END IF;
    d.nhs_number_status := scr._feed_text(p_demographics, 'nhs_number_status', 2);
    IF d.nhs_number_status IS NOT NULL AND d.nhs_number_status !~ '^0[1-8]$' THEN
        RAISE EXCEPTION 'key "nhs_number_status" must be an NHS number status code 01 to 08, not "%"', d.nhs_number_status
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF d.nhs_number IS NULL THEN
        d.nhs_number_status := NULL;     -- a status describes a number we hold
    END IF;
    d.given_name := scr._feed_text(p_demographics, 'given_name', 200);
    d.family_name := scr._feed_text(p_demographics, 'family_name', 200);
    d.birth_date := scr._feed_date(p_demographics, 'birth_date');
    d.death_date := scr._feed_date(p_demographics, 'death_date');
    IF d.death_date < d.birth_date THEN
        RAISE EXCEPTION 'death_date % is before birth_date %', d.death_date, d.birth_date
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    d.sex := lower(scr._feed_text(p_demographics, 'sex', 20));
    IF d.sex IS NOT NULL AND d.sex NOT IN ('male', 'female', 'other', 'unknown') THEN
        RAISE EXCEPTION 'key "sex" must be male, female, other or unknown, not "%"', d.sex
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'These are the FHIR administrative gender codes.';
    END IF;
    d.postcode := upper(regexp_replace(scr._feed_text(p_demographics, 'postcode', 16), '\s+', ' ', 'g'));
    IF jsonb_typeof(p_demographics -> 'address') = 'array' THEN
        IF EXISTS (SELECT FROM jsonb_array_elements(p_demographics -> 'address') l
                   WHERE jsonb_typeof(l) <> 'string') THEN
            RAISE EXCEPTION 'key "address" must be a string or an array of strings'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        SELECT nullif(string_agg(btrim(l), ', ' ORDER BY n) FILTER (WHERE btrim(l) <> ''), '')
        INTO d.address
        FROM jsonb_array_elements_text(p_demographics -> 'address') WITH ORDINALITY AS a(l, n);
        IF length(d.address) > 500 THEN
            RAISE EXCEPTION 'key "address" is too long' USING ERRCODE = 'string_data_right_truncation';
        END IF;
    ELSE
        d.address := scr._feed_text(p_demographics, 'address', 500);
    END IF;
    d.gp_practice := upper(scr._feed_text(p_demographics, 'gp_practice', 12));
    IF d.gp_practice IS NOT NULL AND d.gp_practice !~ '^[A-Z0-9]{3,12}$' THEN
        RAISE EXCEPTION 'key "gp_practice" must be an ODS code, not "%"', d.gp_practice
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN d;
END
$$;

-- ingest_person without the caller check: parse, validate, link, refresh.
-- enable_seqscan = off: every lookup here has an index, but while a fresh
-- record is bulk-loaded its statistics say the tables are empty, the cached
-- plans scan them, and each person costs more than the last (measured: 1.0
-- to 6.7 ms a person over 21,600 people).
-- The relationship a source's feed gives its organisation with a person.
CREATE FUNCTION scr._care_relationship_kind(p_source_kind text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE p_source_kind WHEN 'gp' THEN 'registration' WHEN 'acute' THEN 'admission' ELSE 'referral' END;

-- Whether an organisation has ever had a feed-made relationship with this
-- patient record (not its merge group: a relationship stays with the record
-- it was made for, so an unmerge leaves it with the right person).
CREATE FUNCTION scr._had_care_relationship(p_patient_id bigint, p_ods_code text) RETURNS boolean
LANGUAGE sql STABLE
RETURN EXISTS (SELECT FROM scr.relationship r
               WHERE r.patient_id = p_patient_id AND r.ods_code = p_ods_code
                 AND r.kind IN ('registration', 'admission', 'referral'));

CREATE FUNCTION scr._ingest_person(p_source text, p_local_id text, p_demographics jsonb)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, scr, pg_temp SET enable_seqscan = off AS $$
DECLARE
    existing record;
    linked bigint;
    linked_record bigint;
    method text;
    rel record;
    d scr.person_demographics;
    link record;
    link_into bigint;
    new_record bigint;
BEGIN
    p_local_id := scr._feed_local_id(p_local_id);

    d := scr._parse_person(p_demographics);

    SELECT si.patient_id, si.source_identifier_id, si.given_name, si.family_name, si.birth_date,
           si.nhs_number, si.postcode
    INTO existing
    FROM scr.source_identifier si
    WHERE si.source_code = p_source AND si.local_id = p_local_id;

    IF NOT FOUND THEN
        -- Link (src/linkage.sql): the deterministic rule, then the
        -- probabilistic matcher.  One person's records sent at once by two
        -- sessions must not both make a patient: linking is serialised per
        -- birth date (or family name when there is none), so the second
        -- waits and then finds the first's record.
        IF d.birth_date IS NOT NULL OR d.family_name IS NOT NULL THEN
            PERFORM pg_advisory_xact_lock(1396917025,
                                          coalesce(d.birth_date - date '1850-01-01',
                                                   hashtext(scr.phonetic(d.family_name))));
        END IF;
        link := scr._link_person(d);
        IF link.decision = 'link' AND link.reason = 'NHS number and birth date' THEN
            linked := link.patient_id;
            method := 'nhs_number_and_birth_date';
        ELSIF link.decision = 'link' THEN
            -- A probabilistic link is a merge: the record gets a patient of
            -- its own, merged into the one it matched, so that it can be
            -- undone (scr.unmerge_patients, scr.undo_merge).
            INSERT INTO scr.patient DEFAULT VALUES RETURNING patient_id INTO linked;
            method := 'probabilistic';
            link_into := link.patient_id;
        ELSE
            INSERT INTO scr.patient DEFAULT VALUES RETURNING patient_id INTO linked;
            method := 'new_patient';
            IF d.nhs_number IS NOT NULL AND d.birth_date IS NOT NULL THEN
                -- Claim the pair.  If another feed claimed it first, this
                -- waited for that feed to commit: link to its patient instead.
                INSERT INTO scr.patient_link_key (patient_id, nhs_number, birth_date)
                VALUES (linked, d.nhs_number, d.birth_date)
                ON CONFLICT (nhs_number, birth_date) DO NOTHING;
                IF NOT FOUND THEN
                    DELETE FROM scr.patient p WHERE p.patient_id = linked;
                    SELECT k.patient_id INTO linked FROM scr.patient_link_key k
                    WHERE k.nhs_number = d.nhs_number AND k.birth_date = d.birth_date;
                    method := 'nhs_number_and_birth_date';
                END IF;
            END IF;
        END IF;
        INSERT INTO scr.source_identifier
            (patient_id, source_code, local_id, link_method, demographics, nhs_number,
             nhs_number_received, nhs_number_problem, nhs_number_status, given_name,
             family_name, birth_date, sex, postcode, address, death_date, gp_practice)
        VALUES (linked, p_source, p_local_id, method, p_demographics, d.nhs_number,
                d.nhs_number_received, d.nhs_number_problem, d.nhs_number_status, d.given_name,
                d.family_name, d.birth_date, d.sex, d.postcode, d.address, d.death_date,
                d.gp_practice)
        ON CONFLICT (source_code, local_id) DO NOTHING
        RETURNING source_identifier_id INTO new_record;
        IF NOT FOUND THEN
            -- The same source sent this person from another session, which
            -- committed first: its link stands and this message updates it.
            IF method IN ('new_patient', 'probabilistic') THEN
                DELETE FROM scr.patient_link_key k WHERE k.patient_id = linked;
                DELETE FROM scr.patient p WHERE p.patient_id = linked;
            END IF;
            SELECT si.patient_id, si.source_identifier_id, si.given_name, si.family_name,
                   si.birth_date, si.nhs_number, si.postcode
            INTO existing
            FROM scr.source_identifier si
            WHERE si.source_code = p_source AND si.local_id = p_local_id;
        ELSIF link.decision = 'review' AND method = 'new_patient' THEN
            PERFORM scr._queue_link_review(linked, new_record, 'new_record', link.patient_id,
                                           link.source_identifier_id, link.score, link.levels,
                                           link.reason);
        ELSIF link_into IS NOT NULL THEN
            PERFORM scr._merge_patient_roots(linked, link_into, p_source, p_local_id, NULL,
                                             (SELECT rolname FROM pg_roles WHERE oid = scr.feed_caller()));
            IF link.also_patient_id IS NOT NULL THEN
                PERFORM scr._link_duplicates(linked, new_record, p_source, p_local_id, link);
            END IF;
        END IF;
    END IF;

    IF existing.patient_id IS NOT NULL THEN
        linked := existing.patient_id;
        UPDATE scr.source_identifier
        SET demographics = p_demographics, nhs_number = d.nhs_number,
            nhs_number_received = d.nhs_number_received,
            nhs_number_problem = d.nhs_number_problem, nhs_number_status = d.nhs_number_status,
            given_name = d.given_name, family_name = d.family_name, birth_date = d.birth_date, sex = d.sex,
            postcode = d.postcode, address = d.address, death_date = d.death_date,
            gp_practice = d.gp_practice, received_at = statement_timestamp()
        WHERE patient_id = existing.patient_id
          AND source_identifier_id = existing.source_identifier_id;
        -- Changed demographics can break a link, or show two patients are one.
        IF (existing.given_name, existing.family_name, existing.birth_date, existing.nhs_number,
            existing.postcode)
           IS DISTINCT FROM (d.given_name, d.family_name, d.birth_date, d.nhs_number, d.postcode) THEN
            PERFORM scr._relink(existing.patient_id, existing.source_identifier_id, d, p_source,
                                p_local_id);
        END IF;
    END IF;

    linked_record := linked;
    linked := scr.current_patient_id(linked);
    IF d.nhs_number IS NOT NULL AND d.birth_date IS NOT NULL THEN
        -- Later senders of this pair link here (a pair another patient
        -- already holds is left to linkage review).
        INSERT INTO scr.patient_link_key (patient_id, nhs_number, birth_date)
        VALUES (linked, d.nhs_number, d.birth_date)
        ON CONFLICT (nhs_number, birth_date) DO NOTHING;
    END IF;
    -- Feeds create legitimate relationships at first contact: the sending
    -- organisation's (registration for a GP, admission for a hospital,
    -- referral otherwise), and the registered practice's -- each only when
    -- that organisation has never had one with the record the person links
    -- to (the access cache extends it to the record's merge group).  One
    -- that has ended (scr.end_care_relationship) stays ended until the
    -- organisation's feed starts a new episode (scr.start_care_relationship).
    -- Rows are written only when missing: every change to scr.relationship
    -- drops the readers' access caches.
    SELECT ss.ods_code, scr._care_relationship_kind(ss.kind) AS kind
    INTO rel FROM scr.source_system ss WHERE ss.source_code = p_source;
    IF NOT scr._had_care_relationship(linked_record, rel.ods_code) THEN
        INSERT INTO scr.relationship (patient_id, ods_code, kind, created_by)
        VALUES (linked_record, rel.ods_code, rel.kind, p_source);
    END IF;
    IF d.gp_practice IS NOT NULL AND d.gp_practice IS DISTINCT FROM rel.ods_code
       AND EXISTS (SELECT FROM scr.organisation o WHERE o.ods_code = d.gp_practice)
       AND NOT scr._had_care_relationship(linked_record, d.gp_practice) THEN
        INSERT INTO scr.relationship (patient_id, ods_code, kind, created_by)
        VALUES (linked_record, d.gp_practice, 'registration', p_source);
    END IF;

    IF d.nhs_number IS NOT NULL THEN
        INSERT INTO scr.patient_nhs_number AS h (patient_id, nhs_number, status, source_code)
        VALUES (linked, d.nhs_number, d.nhs_number_status, p_source)
        ON CONFLICT (patient_id, nhs_number)
        DO UPDATE SET last_seen = statement_timestamp(), status = coalesce(excluded.status, h.status);
    END IF;
    PERFORM scr._patient_refresh(linked);
    RETURN linked;
END
$$;

CREATE FUNCTION scr.ingest_person(source text, local_id text, demographics jsonb)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
BEGIN
    PERFORM scr._feed_check_source(source);
    RETURN scr._ingest_person(source, local_id, demographics);
END
$$;
COMMENT ON FUNCTION scr.ingest_person(text, text, jsonb) IS
    'feed: a person''s demographics from a source; links to a patient and returns its id';

-- Raise the problem scr._entry_parse found, if any.
CREATE FUNCTION scr._entry_raise(e scr.entry_input) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF e.err_sqlstate IS NULL THEN
        RETURN;
    ELSIF e.err_detail IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = e.err_sqlstate, MESSAGE = e.err_message, DETAIL = e.err_detail;
    ELSIF e.err_hint IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = e.err_sqlstate, MESSAGE = e.err_message, HINT = e.err_hint;
    END IF;
    RAISE EXCEPTION USING ERRCODE = e.err_sqlstate, MESSAGE = e.err_message;
END
$$;

-- Store one validated entry for the person a source knows as p_local_id.
-- outcome: loaded (new or newer version), late (older than the current
-- version: kept in history, never current), unchanged (the same version
-- again).  The batch function's set-based path does the "new" case for many
-- entries at once and sends the rest here.
CREATE FUNCTION scr._store_entry(p_source text, p_local_id text, e scr.entry_input,
                                 OUT entry_id bigint, OUT outcome text)
LANGUAGE plpgsql SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    patient bigint;
    cur scr.entry;
BEGIN
    IF NOT EXISTS (SELECT FROM scr.organisation o WHERE o.ods_code = e.ods_code) THEN
        RAISE EXCEPTION 'unknown organisation "%"', e.ods_code USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT si.patient_id INTO patient
    FROM scr.source_identifier si
    WHERE si.source_code = p_source AND si.local_id = p_local_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'source "%" has sent no person with local id "%"', p_source, p_local_id
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Send the person with scr.ingest_person first.';
    END IF;

    INSERT INTO scr.entry
        (patient_id, kind, code_system, code, display, status, effective_start, effective_end,
         author, source_code, ods_code, source_ref, source_timestamp, sensitivity,
         sensitivity_category, payload)
    VALUES (patient, e.kind, e.code_system, e.code, e.display, e.status, e.effective_start,
            e.effective_end, e.author, p_source, e.ods_code, e.source_ref, e.source_timestamp,
            e.sensitivity, e.sensitivity_category, e.payload)
    ON CONFLICT (source_code, source_ref) DO NOTHING
    RETURNING scr.entry.entry_id INTO entry_id;
    IF FOUND THEN
        outcome := 'loaded';
        RETURN;
    END IF;

    -- The source has sent this entry before: order the versions.
    SELECT * INTO cur FROM scr.entry x
    WHERE x.source_code = p_source AND x.source_ref = e.source_ref
    FOR UPDATE;
    entry_id := cur.entry_id;
    IF cur.patient_id <> patient THEN
        RAISE EXCEPTION 'entry "%" of source "%" belongs to another person', e.source_ref, p_source
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A source reference names one entry of one person.';
    END IF;
    IF e.source_timestamp = cur.source_timestamp THEN
        IF (cur.kind, cur.status, cur.payload, cur.sensitivity, cur.sensitivity_category,
            cur.effective_start, cur.effective_end, cur.ods_code, cur.code_system, cur.code,
            cur.display, cur.author)
           IS NOT DISTINCT FROM
           (e.kind, e.status, e.payload, e.sensitivity, e.sensitivity_category,
            e.effective_start, e.effective_end, e.ods_code, e.code_system, e.code,
            e.display, e.author) THEN
            outcome := 'unchanged';
            RETURN;
        END IF;
        RAISE EXCEPTION 'entry "%" of source "%" was sent twice with the same source_timestamp and different content', e.source_ref, p_source
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A changed entry needs a later source_timestamp.';
    END IF;

    IF e.source_timestamp < cur.source_timestamp THEN
        -- Late: older than what the record holds.  Keep it, never current.
        INSERT INTO scr.entry_history
            (patient_id, entry_id, kind, code_system, code, display, status, effective_start,
             effective_end, author, source_code, ods_code, source_ref, source_timestamp,
             received_at, sensitivity, sensitivity_category, payload, version, superseded_at, late)
        VALUES (patient, cur.entry_id, e.kind, e.code_system, e.code, e.display, e.status,
                e.effective_start, e.effective_end, e.author, p_source, e.ods_code, e.source_ref,
                e.source_timestamp, statement_timestamp(), e.sensitivity, e.sensitivity_category,
                e.payload, 0, statement_timestamp(), true);
        outcome := 'late';
        RETURN;
    END IF;

    -- Newer: the current version goes to history, the new one replaces it.
    INSERT INTO scr.entry_history
        (patient_id, entry_id, kind, code_system, code, display, status, effective_start,
         effective_end, author, source_code, ods_code, source_ref, source_timestamp,
         received_at, sensitivity, sensitivity_category, payload, version, superseded_at)
    VALUES (cur.patient_id, cur.entry_id, cur.kind, cur.code_system, cur.code, cur.display,
            cur.status, cur.effective_start, cur.effective_end, cur.author, cur.source_code,
            cur.ods_code, cur.source_ref, cur.source_timestamp, cur.received_at,
            cur.sensitivity, cur.sensitivity_category, cur.payload, cur.version,
            statement_timestamp());
    UPDATE scr.entry x
    SET kind = e.kind, code_system = e.code_system, code = e.code, display = e.display,
        status = e.status, effective_start = e.effective_start, effective_end = e.effective_end,
        author = e.author, ods_code = e.ods_code, source_timestamp = e.source_timestamp,
        received_at = statement_timestamp(), sensitivity = e.sensitivity,
        sensitivity_category = e.sensitivity_category, payload = e.payload,
        version = cur.version + 1
    WHERE x.patient_id = cur.patient_id AND x.entry_id = cur.entry_id;
    outcome := 'loaded';
END
$$;

-- ingest_entry without the caller check: validate, then store.
CREATE FUNCTION scr._ingest_entry(p_source text, p_ods_code text, p_local_id text, p_entry jsonb,
                                  OUT entry_id bigint, OUT outcome text)
LANGUAGE plpgsql SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    lk record;
    e scr.entry_input;
BEGIN
    p_local_id := scr._feed_local_id(p_local_id);
    lk := scr._entry_lookups();
    e := scr._entry_parse(p_entry, p_ods_code, lk.kinds, lk.resource_types, lk.categories);
    PERFORM scr._entry_raise(e);
    SELECT s.entry_id, s.outcome INTO entry_id, outcome FROM scr._store_entry(p_source, p_local_id, e) s;
END
$$;

CREATE FUNCTION scr.ingest_entry(source text, local_id text, entry jsonb)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    ods text := scr._feed_check_source(source);
    r record;
BEGIN
    r := scr._ingest_entry(source, ods, local_id, entry);
    RETURN r.entry_id;
END
$$;
COMMENT ON FUNCTION scr.ingest_entry(text, text, jsonb) IS
    'feed: one clinical or care entry for a person a source has sent; idempotent on (source, source_ref); returns the entry id';

-- One message of a batch, by its type.  Returns the outcome.
CREATE FUNCTION scr._ingest_message(p_source text, p_ods_code text, p_message jsonb)
RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    kind text;
BEGIN
    PERFORM scr._feed_check_message('message', p_message,
        ARRAY['type', 'local_id', 'demographics', 'entry']);
    kind := scr._feed_text(p_message, 'type', 16);
    IF kind = 'person' THEN
        PERFORM scr._ingest_person(p_source, scr._feed_text(p_message, 'local_id', 128),
                                   p_message -> 'demographics');
        RETURN 'loaded';
    ELSIF kind = 'entry' THEN
        RETURN (scr._ingest_entry(p_source, p_ods_code, scr._feed_text(p_message, 'local_id', 128),
                                  p_message -> 'entry')).outcome;
    END IF;
    RAISE EXCEPTION 'message "type" must be "person" or "entry", not %', coalesce('"' || kind || '"', 'missing')
        USING ERRCODE = 'invalid_parameter_value';
END
$$;

-- Keep a message that could not be loaded, with why.
CREATE FUNCTION scr._feed_dead_letter(p_source text, p_message jsonb, p_sqlstate text,
                                      p_error text, p_detail text, p_hint text)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    id bigint;
BEGIN
    INSERT INTO scr.feed_error (source_code, message_type, local_id, message, sqlstate, error,
                                detail, hint, submitted_by)
    VALUES (p_source,
            CASE WHEN jsonb_typeof(p_message) = 'object' AND p_message ->> 'type' IN ('person', 'entry')
                 THEN p_message ->> 'type' ELSE 'unknown' END,
            CASE WHEN jsonb_typeof(p_message) = 'object' THEN left(p_message ->> 'local_id', 128) END,
            p_message, p_sqlstate, p_error,
            nullif(p_detail, ''), nullif(p_hint, ''),
            (SELECT rolname FROM pg_roles WHERE oid = scr.feed_caller()))
    RETURNING feed_error_id INTO id;
    RETURN id;
END
$$;

-- A batch: people (and anything malformed) one message at a time, in
-- order; then every entry message at once.  Entries are validated in C in
-- one statement, the bad ones dead-lettered and the new ones inserted
-- together; entries the record already holds (new versions, late versions,
-- resends) go one at a time through scr._store_entry.  Each one-at-a-time
-- message runs in its own subtransaction, so one bad message never stops
-- the rest.  Should the set-based statement itself fail, every entry is
-- retried one at a time.
CREATE FUNCTION scr.ingest_batch(source text, messages jsonb,
                                 OUT loaded bigint, OUT unchanged bigint, OUT rejected bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    ods text := scr._feed_check_source(source);
    caller name := (SELECT rolname FROM pg_roles WHERE oid = scr.feed_caller());
    lk record;
    msg jsonb;
    outcome text;
    st text;
    err text;
    det text;
    hnt text;
    bulk_loaded bigint;
    bulk_rejected bigint;
    rest_messages jsonb[];
    rest_parsed scr.entry_input[];
    i integer;
BEGIN
    loaded := 0;
    unchanged := 0;
    rejected := 0;
    IF messages IS NULL THEN
        RAISE EXCEPTION 'messages must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF jsonb_typeof(messages) <> 'array' THEN
        RAISE EXCEPTION 'messages must be a JSON array of messages, not %', jsonb_typeof(messages)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- People, and messages that are not entry messages at all.
    FOR msg IN SELECT m FROM jsonb_array_elements(messages) WITH ORDINALITY AS a(m, n)
               WHERE NOT (jsonb_typeof(m) = 'object' AND m ->> 'type' = 'entry')
               ORDER BY n LOOP
        BEGIN
            outcome := scr._ingest_message(source, ods, msg);
            IF outcome = 'unchanged' THEN
                unchanged := unchanged + 1;
            ELSE
                loaded := loaded + 1;
            END IF;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, err = MESSAGE_TEXT,
                                    det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
            PERFORM scr._feed_dead_letter(source, msg, st, err, det, hnt);
            rejected := rejected + 1;
        END;
    END LOOP;

    -- Entries, set-based.
    lk := scr._entry_lookups();
    BEGIN
        WITH judged AS MATERIALIZED (
            SELECT p.*, si.patient_id,
                   CASE WHEN p.err_sqlstate IS NOT NULL THEN p.err_sqlstate
                        WHEN o.ods_code IS NULL OR si.patient_id IS NULL THEN '22023' END AS st,
                   CASE WHEN p.err_sqlstate IS NOT NULL THEN p.err_message
                        WHEN o.ods_code IS NULL THEN format('unknown organisation "%s"', p.ods_code)
                        WHEN si.patient_id IS NULL
                        THEN format('source "%s" has sent no person with local id "%s"', source, p.local_id)
                   END AS err,
                   CASE WHEN p.err_sqlstate IS NULL AND o.ods_code IS NOT NULL AND si.patient_id IS NULL
                        THEN 'Send the person with scr.ingest_person first.' ELSE p.err_hint END AS hnt,
                   row_number() OVER (PARTITION BY p.source_ref ORDER BY p.n) AS copy
            FROM scr._entry_batch_parse(messages, ods, lk.kinds, lk.resource_types, lk.categories) p
            LEFT JOIN scr.organisation o ON o.ods_code = p.ods_code
            LEFT JOIN scr.source_identifier si ON si.source_code = source AND si.local_id = p.local_id
        ), dead AS (
            INSERT INTO scr.feed_error (source_code, message_type, local_id, message, sqlstate,
                                        error, detail, hint, submitted_by)
            SELECT source, 'entry', left(j.local_id, 128), messages -> (j.n - 1), j.st, j.err,
                   j.err_detail, j.hnt, caller
            FROM judged j WHERE j.st IS NOT NULL ORDER BY j.n
            RETURNING 1
        ), inserted AS (
            INSERT INTO scr.entry
                (patient_id, kind, code_system, code, display, status, effective_start,
                 effective_end, author, source_code, ods_code, source_ref, source_timestamp,
                 sensitivity, sensitivity_category, payload)
            SELECT j.patient_id, j.kind, j.code_system, j.code, j.display, j.status,
                   j.effective_start, j.effective_end, j.author, source, j.ods_code, j.source_ref,
                   j.source_timestamp, j.sensitivity, j.sensitivity_category, j.payload
            FROM judged j WHERE j.st IS NULL AND j.copy = 1 ORDER BY j.n
            ON CONFLICT (source_code, source_ref) DO NOTHING
            RETURNING source_ref
        )
        SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM dead),
               array_agg(messages -> (j.n - 1) ORDER BY j.n),
               array_agg(ROW(NULL, NULL, NULL, NULL, j.local_id, j.kind, j.code_system, j.code,
                             j.display, j.status, j.effective_start, j.effective_end, j.author,
                             j.ods_code, j.source_ref, j.source_timestamp, j.sensitivity,
                             j.sensitivity_category, j.payload)::scr.entry_input ORDER BY j.n)
        INTO bulk_loaded, bulk_rejected, rest_messages, rest_parsed
        FROM judged j
        WHERE j.st IS NULL
          AND (j.copy > 1 OR j.source_ref NOT IN (SELECT x.source_ref FROM inserted x));
    EXCEPTION WHEN OTHERS THEN
        -- Retry every entry one at a time; each failure is then dead-lettered.
        bulk_loaded := 0;
        bulk_rejected := 0;
        SELECT array_agg(a.m ORDER BY a.n),
               array_agg(scr._entry_message_parse(a.m, ods, lk.kinds, lk.resource_types, lk.categories) ORDER BY a.n)
        INTO rest_messages, rest_parsed
        FROM jsonb_array_elements(messages) WITH ORDINALITY AS a(m, n)
        WHERE jsonb_typeof(a.m) = 'object' AND a.m ->> 'type' = 'entry';
    END;
    loaded := loaded + bulk_loaded;
    rejected := rejected + bulk_rejected;

    -- Entries the record already holds, and retries: one at a time.
    FOR i IN 1 .. coalesce(array_length(rest_messages, 1), 0) LOOP
        BEGIN
            PERFORM scr._entry_raise(rest_parsed[i]);
            outcome := (scr._store_entry(source, (rest_parsed[i]).local_id, rest_parsed[i])).outcome;
            IF outcome = 'unchanged' THEN
                unchanged := unchanged + 1;
            ELSE
                loaded := loaded + 1;
            END IF;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, err = MESSAGE_TEXT,
                                    det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
            PERFORM scr._feed_dead_letter(source, rest_messages[i], st, err, det, hnt);
            rejected := rejected + 1;
        END;
    END LOOP;
END
$$;
COMMENT ON FUNCTION scr.ingest_batch(text, jsonb) IS
    'feed: many messages in one call; each bad message is kept in scr.feed_error and the rest load';

-- Replay a dead letter, as stored or as corrected by an operator.
CREATE FUNCTION scr.replay_feed_error(feed_error_id bigint, corrected_message jsonb DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    fe scr.feed_error;
    msg jsonb;
    outcome text;
    err text;
    st text;
BEGIN
    IF NOT pg_has_role(scr.feed_caller(), 'scr_admin', 'MEMBER') THEN
        RAISE EXCEPTION 'only members of scr_admin may replay feed errors'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT * INTO fe FROM scr.feed_error f WHERE f.feed_error_id = replay_feed_error.feed_error_id
    FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no feed error %', replay_feed_error.feed_error_id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF fe.replayed_at IS NOT NULL THEN
        RAISE EXCEPTION 'feed error % was already replayed', fe.feed_error_id
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('It was replayed at %s.', fe.replayed_at);
    END IF;
    msg := coalesce(corrected_message, fe.message);
    BEGIN
        outcome := scr._ingest_message(fe.source_code,
                                       (SELECT s.ods_code FROM scr.source_system s
                                        WHERE s.source_code = fe.source_code),
                                       msg);
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, err = MESSAGE_TEXT;
        UPDATE scr.feed_error f SET replay_result = format('failed %s: %s', st, err)
        WHERE f.feed_error_id = fe.feed_error_id;
        RETURN 'failed: ' || err;
    END;
    UPDATE scr.feed_error f
    SET replayed_at = statement_timestamp(), replay_result = outcome,
        corrected_message = replay_feed_error.corrected_message
    WHERE f.feed_error_id = fe.feed_error_id;
    RETURN outcome;
END
$$;
COMMENT ON FUNCTION scr.replay_feed_error(bigint, jsonb) IS
    'operators: load a dead-lettered message again, optionally corrected; returns its outcome';

-- Merge two patients known to one source (HL7 A40: the source found that
-- from_local_id and to_local_id are one person).  Idempotent: the same merge
-- twice, or its inverse afterwards, changes nothing.  Returns the survivor.
CREATE FUNCTION scr._merge_patients(p_source text, p_from text, p_to text) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    from_patient bigint;
    to_patient bigint;
BEGIN
    p_from := scr._feed_local_id(p_from);
    p_to := scr._feed_local_id(p_to);
    SELECT si.patient_id INTO from_patient FROM scr.source_identifier si
    WHERE si.source_code = p_source AND si.local_id = p_from;
    SELECT si.patient_id INTO to_patient FROM scr.source_identifier si
    WHERE si.source_code = p_source AND si.local_id = p_to;
    IF from_patient IS NULL OR to_patient IS NULL THEN
        RAISE EXCEPTION 'source "%" has sent no person with local id "%"', p_source,
                        CASE WHEN from_patient IS NULL THEN p_from ELSE p_to END
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN scr._merge_patient_roots(from_patient, to_patient, p_source, p_from, p_to,
                                    (SELECT rolname FROM pg_roles WHERE oid = scr.feed_caller()));
END
$$;

CREATE FUNCTION scr.merge_patients(source text, from_local_id text, to_local_id text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
BEGIN
    PERFORM scr._feed_check_source(source);
    IF from_local_id IS NULL OR to_local_id IS NULL THEN
        RAISE EXCEPTION 'local ids must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    RETURN scr._merge_patients(source, from_local_id, to_local_id);
END
$$;
COMMENT ON FUNCTION scr.merge_patients(text, text, text) IS
    'feed: two local records of one source are one person (HL7 A40); merges their patients; idempotent';

-- Undo the latest merge that took this patient into another: patients that
-- had been merged into it return to it.  Returns the patient.
CREATE FUNCTION scr._unmerge_patient(p_patient bigint, p_by name) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    survivor bigint;
    m scr.patient_merge;
BEGIN
    SELECT * INTO m FROM scr.patient_merge pm
    WHERE pm.patient_id = p_patient AND pm.unmerged_at IS NULL
    ORDER BY pm.merge_id DESC LIMIT 1
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN p_patient;    -- not merged: nothing to undo
    END IF;
    -- The survivor today: the patient it was merged into, or where that
    -- patient has since been merged.
    survivor := scr.current_patient_id(m.patient_id);
    PERFORM 1 FROM scr.patient p WHERE p.patient_id IN (m.patient_id, survivor)
    ORDER BY p.patient_id FOR UPDATE;
    UPDATE scr.patient p SET merged_into = NULL, updated_at = statement_timestamp()
    WHERE p.patient_id = m.patient_id;
    -- Patients merged into this one before it was merged away come back to
    -- it (and, recursively, those merged into them point at it too).
    UPDATE scr.patient p SET merged_into = m.patient_id, updated_at = statement_timestamp()
    WHERE p.merged_into = survivor
      AND p.patient_id IN (WITH RECURSIVE below AS (
                               SELECT pm.patient_id FROM scr.patient_merge pm
                               WHERE pm.into_patient_id = m.patient_id AND pm.unmerged_at IS NULL
                               UNION
                               SELECT pm.patient_id FROM scr.patient_merge pm
                               JOIN below b ON pm.into_patient_id = b.patient_id
                               WHERE pm.unmerged_at IS NULL)
                           SELECT b.patient_id FROM below b);
    UPDATE scr.patient_merge pm
    SET unmerged_at = statement_timestamp(),
        unmerged_by = p_by
    WHERE pm.patient_id = m.patient_id AND pm.merge_id = m.merge_id;
    PERFORM scr._patient_refresh(m.patient_id);
    PERFORM scr._patient_refresh(survivor);
    IF m.into_patient_id <> survivor THEN
        PERFORM scr._patient_refresh(m.into_patient_id);
    END IF;
    RETURN m.patient_id;
END
$$;

-- Undo the merge that took the patient of from_local_id away.  Patients that
-- had been merged into it return to it.
CREATE FUNCTION scr.unmerge_patients(source text, from_local_id text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    from_patient bigint;
BEGIN
    PERFORM scr._feed_check_source(source);
    SELECT si.patient_id INTO from_patient FROM scr.source_identifier si
    WHERE si.source_code = source AND si.local_id = scr._feed_local_id(from_local_id);
    IF from_patient IS NULL THEN
        RAISE EXCEPTION 'source "%" has sent no person with local id "%"', source, from_local_id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN scr._unmerge_patient(from_patient, (SELECT rolname FROM pg_roles WHERE oid = scr.feed_caller()));
END
$$;
COMMENT ON FUNCTION scr.unmerge_patients(text, text) IS
    'feed: undo the latest merge of the patient of from_local_id; returns that patient';

-- The patient record a source's local id links to, the survivor it reads
-- as now, and the source's organisation and relationship kind; refuses an
-- unknown local id.
CREATE FUNCTION scr._feed_care_target(p_source text, p_local_id text, OUT record_id bigint,
                                      OUT patient_id bigint, OUT ods_code text, OUT kind text)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    SELECT si.patient_id, scr.current_patient_id(si.patient_id), ss.ods_code,
           scr._care_relationship_kind(ss.kind)
    INTO record_id, patient_id, ods_code, kind
    FROM scr.source_identifier si JOIN scr.source_system ss USING (source_code)
    WHERE si.source_code = p_source AND si.local_id = scr._feed_local_id(p_local_id);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'source "%" has sent no person with local id "%"', p_source, p_local_id
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Send the person (scr.ingest_person) first.';
    END IF;
END
$$;

-- An organisation's open feed-made relationships with any record of the
-- merge group whose survivor is p_root.
CREATE FUNCTION scr._open_care_relationships(p_root bigint, p_ods_code text)
RETURNS TABLE (patient_id bigint, relationship_id bigint, valid_from timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT r.patient_id, r.relationship_id, r.valid_from
    FROM scr.relationship r JOIN scr.patient p ON p.patient_id = r.patient_id
    WHERE r.ods_code = p_ods_code AND r.valid_to IS NULL
      AND r.kind IN ('registration', 'admission', 'referral')
      AND (p.patient_id = p_root OR p.merged_into = p_root)
$$;

-- A new episode of care with a person the source already knows: a
-- readmission, a re-registration, a new referral.  Opens the organisation's
-- relationship unless one is open already; returns the open relationship.
CREATE FUNCTION scr.start_care_relationship(source text, local_id text, started_at timestamptz DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    t record;
    id bigint;
BEGIN
    PERFORM scr._feed_check_source(source);
    SELECT * INTO t FROM scr._feed_care_target(source, local_id);
    PERFORM 1 FROM scr.patient p WHERE p.patient_id = t.patient_id FOR UPDATE;
    SELECT o.relationship_id INTO id FROM scr._open_care_relationships(t.patient_id, t.ods_code) o LIMIT 1;
    IF id IS NULL THEN
        INSERT INTO scr.relationship (patient_id, ods_code, kind, valid_from, created_by)
        VALUES (t.record_id, t.ods_code, t.kind, coalesce(started_at, statement_timestamp()), source)
        RETURNING relationship_id INTO id;
    END IF;
    RETURN id;
END
$$;
COMMENT ON FUNCTION scr.start_care_relationship(text, text, timestamptz) IS
    'feed: a new episode of care (readmission, re-registration, referral) opens the source organisation''s relationship';

-- The end of an episode of care: a discharge, a deregistration, a referral
-- closed.  Ends the organisation's open feed-made relationships with every
-- record of the person's merge group; returns how many it ended (0 when
-- none was open, so a repeated message is harmless).
CREATE FUNCTION scr.end_care_relationship(source text, local_id text, ended_at timestamptz DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    t record;
    ends_at timestamptz := coalesce(ended_at, statement_timestamp());
    opened timestamptz;
    n integer;
BEGIN
    PERFORM scr._feed_check_source(source);
    SELECT * INTO t FROM scr._feed_care_target(source, local_id);
    PERFORM 1 FROM scr.patient p WHERE p.patient_id = t.patient_id FOR UPDATE;
    SELECT max(o.valid_from) INTO opened FROM scr._open_care_relationships(t.patient_id, t.ods_code) o;
    IF opened >= ends_at THEN
        RAISE EXCEPTION 'a relationship cannot end before it started'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The end given, %s, is not after the start of the open relationship.', ends_at);
    END IF;
    UPDATE scr.relationship r SET valid_to = ends_at
    FROM scr._open_care_relationships(t.patient_id, t.ods_code) o
    WHERE r.patient_id = o.patient_id AND r.relationship_id = o.relationship_id;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
COMMENT ON FUNCTION scr.end_care_relationship(text, text, timestamptz) IS
    'feed: the end of an episode of care (discharge, deregistration) ends the source organisation''s relationship';

-- Reading the record as it stood at a past time: the version of each entry
-- of a patient that was current at that moment.
CREATE FUNCTION scr.entries_as_of(patient_id bigint, at timestamptz)
RETURNS SETOF scr.entry
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
    -- Merges in effect at that moment, from the merge log (not today's
    -- merged_into): which patient the given one had become, and which
    -- patients had become it.
    WITH RECURSIVE merges AS (
        SELECT m.patient_id, m.into_patient_id FROM scr.patient_merge m
        WHERE m.merged_at <= at AND (m.unmerged_at IS NULL OR m.unmerged_at > at)
    ), survivor AS (
        SELECT entries_as_of.patient_id AS patient_id
        UNION
        SELECT g.into_patient_id FROM merges g JOIN survivor s ON g.patient_id = s.patient_id
    ), root AS (
        SELECT s.patient_id FROM survivor s
        WHERE NOT EXISTS (SELECT FROM merges g WHERE g.patient_id = s.patient_id)
    ), members AS (
        SELECT r.patient_id FROM root r
        UNION
        SELECT g.patient_id FROM merges g JOIN members m ON g.into_patient_id = m.patient_id
    ), versions AS (
        SELECT e.patient_id, e.entry_id, e.kind, e.code_system, e.code, e.display, e.status,
               e.effective_start, e.effective_end, e.author, e.source_code, e.ods_code,
               e.source_ref, e.source_timestamp, e.received_at, e.sensitivity,
               e.sensitivity_category, e.payload, e.version, NULL::timestamptz AS until
        FROM scr.entry e WHERE e.patient_id IN (SELECT m.patient_id FROM members m)
        UNION ALL
        SELECT h.patient_id, h.entry_id, h.kind, h.code_system, h.code, h.display, h.status,
               h.effective_start, h.effective_end, h.author, h.source_code, h.ods_code,
               h.source_ref, h.source_timestamp, h.received_at, h.sensitivity,
               h.sensitivity_category, h.payload, h.version, h.superseded_at
        FROM scr.entry_history h
        WHERE h.patient_id IN (SELECT m.patient_id FROM members m) AND NOT h.late
    )
    SELECT v.patient_id, v.entry_id, v.kind, v.code_system, v.code, v.display, v.status,
           v.effective_start, v.effective_end, v.author, v.source_code, v.ods_code,
           v.source_ref, v.source_timestamp, v.received_at, v.sensitivity,
           v.sensitivity_category, v.payload, v.version
    FROM versions v
    WHERE v.received_at <= at AND (v.until IS NULL OR v.until > at)
      AND v.status <> 'entered-in-error'
    ORDER BY v.effective_start DESC NULLS LAST, v.entry_id
$$;
COMMENT ON FUNCTION scr.entries_as_of(bigint, timestamptz) IS
    'the patient''s record as it stood at a past time: merges then in effect applied, entered-in-error entries left out';

-- Privileges.
REVOKE ALL ON FUNCTION scr.feed_caller(), scr._feed_check_source(text),
    scr._feed_check_message(text, jsonb, text[]), scr._feed_local_id(text),
    scr._feed_text(jsonb, text, integer),
    scr._feed_date(jsonb, text), scr._patient_refresh(bigint), scr._parse_person(jsonb),
    scr._ingest_person(text, text, jsonb), scr._ingest_entry(text, text, text, jsonb),
    scr._entry_raise(scr.entry_input), scr._store_entry(text, text, scr.entry_input),
    scr._ingest_message(text, text, jsonb),
    scr._feed_dead_letter(text, jsonb, text, text, text, text),
    scr._merge_patients(text, text, text), scr._unmerge_patient(bigint, name), scr.current_patient_id(bigint),
    scr._care_relationship_kind(text), scr._had_care_relationship(bigint, text),
    scr._feed_care_target(text, text), scr._open_care_relationships(bigint, text),
    scr.start_care_relationship(text, text, timestamptz), scr.end_care_relationship(text, text, timestamptz),
    scr.ingest_person(text, text, jsonb), scr.ingest_entry(text, text, jsonb),
    scr.ingest_batch(text, jsonb), scr.replay_feed_error(bigint, jsonb),
    scr.merge_patients(text, text, text), scr.unmerge_patients(text, text),
    scr.entries_as_of(bigint, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scr.ingest_person(text, text, jsonb), scr.ingest_entry(text, text, jsonb),
    scr.ingest_batch(text, jsonb), scr.merge_patients(text, text, text),
    scr.unmerge_patients(text, text), scr.start_care_relationship(text, text, timestamptz),
    scr.end_care_relationship(text, text, timestamptz) TO scr_feed;
GRANT EXECUTE ON FUNCTION scr.replay_feed_error(bigint, jsonb) TO scr_admin;
