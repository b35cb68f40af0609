-- Entry validation without raising (src/entry_parse.c).

-- One entry as the feed functions store it, or the first problem with it.
CREATE TYPE scr.entry_input AS (
    err_sqlstate        text,
    err_message         text,
    err_detail          text,
    err_hint            text,
    local_id            text,
    kind                text,
    code_system         text,
    code                text,
    display             text,
    status              text,
    effective_start     timestamptz,
    effective_end       timestamptz,
    author              text,
    ods_code            text,
    source_ref          text,
    source_timestamp    timestamptz,
    sensitivity         "char",
    sensitivity_category text,
    payload             jsonb
);
COMMENT ON TYPE scr.entry_input IS
    'a feed entry validated and typed, or (err_*) the first problem with it';

CREATE FUNCTION scr._entry_parse(entry jsonb, default_ods text, kinds text[],
                                 resource_types text[], categories text[])
RETURNS scr.entry_input
    AS 'MODULE_PATHNAME', 'entry_parse' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION scr._entry_message_parse(message jsonb, default_ods text, kinds text[],
                                         resource_types text[], categories text[])
RETURNS scr.entry_input
    AS 'MODULE_PATHNAME', 'entry_message_parse' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION scr._entry_batch_parse(messages jsonb, default_ods text, kinds text[],
                                       resource_types text[], categories text[])
RETURNS TABLE (n integer, err_sqlstate text, err_message text, err_detail text, err_hint text,
               local_id text, kind text, code_system text, code text, display text, status text,
               effective_start timestamptz, effective_end timestamptz, author text, ods_code text,
               source_ref text, source_timestamp timestamptz, sensitivity "char",
               sensitivity_category text, payload jsonb)
    AS 'MODULE_PATHNAME', 'entry_batch_parse' LANGUAGE C STABLE PARALLEL SAFE;

-- The reference arrays _entry_parse takes, read once per call or batch.
CREATE FUNCTION scr._entry_lookups(OUT kinds text[], OUT resource_types text[], OUT categories text[])
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, scr, pg_temp AS $$
BEGIN
    SELECT array_agg(k.kind ORDER BY k.kind), array_agg(k.fhir_resource_type ORDER BY k.kind)
    INTO kinds, resource_types FROM scr.entry_kind k;
    SELECT array_agg(c.category ORDER BY c.category) INTO categories FROM scr.sensitivity_category c;
END
$$;

REVOKE ALL ON FUNCTION scr._entry_parse(jsonb, text, text[], text[], text[]),
    scr._entry_message_parse(jsonb, text, text[], text[], text[]),
    scr._entry_batch_parse(jsonb, text, text[], text[], text[]),
    scr._entry_lookups() FROM PUBLIC;
