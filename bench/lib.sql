-- The SQL timing harness shared by the benches that compare variants in
-- interleaved rounds (all but bench/ingest.sh, which times whole loads with
-- a harness of its own).  A bench loads
-- it once, after CREATE EXTENSION, from its own psql session:
--
--     bsql -v lib_sql="$BENCH_DIR/lib.sql" <<'SQL'
--     CREATE EXTENSION scr;
--     \i :lib_sql
--     ...
--
-- It makes the schema bench, the table bench.timing (one row per phase,
-- variant and round, in ms) and the functions below: time_ms, measure, plan,
-- require_plan, median, line, check, touch, autovacuum_off, quiesce.
-- Everything else a bench needs is its own.

CREATE SCHEMA bench;

CREATE TABLE bench.timing (phase text, variant text, round int, ms float8);

-- Wall time of one statement in the server, divided by the number of
-- queries it runs (per), after an untimed statement (pre) when given.  The
-- result rows are discarded.
CREATE FUNCTION bench.time_ms(q text, per int DEFAULT 1, pre text DEFAULT NULL) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
BEGIN
	IF pre IS NOT NULL THEN
		EXECUTE pre;
	END IF;
	t0 := clock_timestamp();
	EXECUTE q;
	RETURN 1000 * extract(epoch FROM clock_timestamp() - t0) / per;
END $$;

-- One warm-up run of each variant (discarded), then `rounds` rounds of all
-- variants, the order rotating each round so no variant always runs first.
-- per and pre, when given, are time_ms's, one element a variant.
CREATE FUNCTION bench.measure(phase text, variants text[], queries text[], rounds int,
							  per int[] DEFAULT NULL, pre text[] DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	n int := cardinality(variants);
	r int;
	j int;
	k int;
BEGIN
	FOR j IN 1 .. n LOOP
		PERFORM bench.time_ms(queries[j], coalesce(per[j], 1), pre[j]);
	END LOOP;
	FOR r IN 1 .. rounds LOOP
		FOR j IN 0 .. n - 1 LOOP
			k := (r + j) % n + 1;
			INSERT INTO bench.timing
			VALUES (phase, variants[k], r, bench.time_ms(queries[k], coalesce(per[k], 1), pre[k]));
		END LOOP;
	END LOOP;
END $$;

-- EXPLAIN of q, one string; with do_analyze the query runs (a warm-up).
CREATE FUNCTION bench.plan(q text, do_analyze boolean) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	line text;
	result text := '';
BEGIN
	FOR line IN EXECUTE CASE WHEN do_analyze
			THEN 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) '
			ELSE 'EXPLAIN (COSTS OFF) ' END || q LOOP
		result := result || line || E'\n';
	END LOOP;
	RETURN result;
END $$;

-- Refuse to time a query whose plan is not the one the comparison is about.
CREATE FUNCTION bench.require_plan(q text, must text[], must_not text, do_analyze boolean)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	p text := bench.plan(q, do_analyze);
	m text;
BEGIN
	FOREACH m IN ARRAY must LOOP
		IF p !~ m THEN
			RAISE EXCEPTION 'plan of "%" lacks /%/:%', q, m, E'\n' || p;
		END IF;
	END LOOP;
	IF must_not IS NOT NULL AND p ~ must_not THEN
		RAISE EXCEPTION 'plan of "%" has /%/:%', q, must_not, E'\n' || p;
	END IF;
END $$;

-- Median of each variant of a phase.
CREATE FUNCTION bench.median(p text, v text) RETURNS float8 LANGUAGE sql AS $$
	SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)
	FROM bench.timing WHERE phase = p AND variant = v
$$;

-- The widths of a report line's columns: the phase label ('parse:') and the
-- ratio ('1.24').  A bench with longer labels or larger ratios widens them
-- (UPDATE bench.line_style ...) before it prints its lines.  A ratio prints
-- with two decimals and up to ratio_width - 3 digits before the point.
CREATE TABLE bench.line_style (label_width int NOT NULL, ratio_width int NOT NULL);
INSERT INTO bench.line_style VALUES (7, 6);

-- One report line: median(num)/median(den), the spread of the same ratio
-- taken round by round, and PASS/MISS against the target.  kind is 'max'
-- (ratio must not exceed target), 'min' (must reach it) or 'info'.
CREATE FUNCTION bench.line(p text, num text, den text, kind text, target float8, note text DEFAULT '')
RETURNS text LANGUAGE sql AS $$
	WITH per_round AS (
		SELECT a.ms / nullif(b.ms, 0) AS ratio
		FROM bench.timing a JOIN bench.timing b USING (phase, round)
		WHERE a.phase = p AND a.variant = num AND b.variant = den
	), x AS (
		-- Rounded as printed, so a PASS never shows a figure over its target.
		SELECT round((bench.median(p, num) / nullif(bench.median(p, den), 0))::numeric, 2) AS ratio,
			   (SELECT min(ratio) FROM per_round) AS lo,
			   (SELECT max(ratio) FROM per_round) AS hi
	), s AS (
		SELECT label_width, ratio_width, 'FM' || repeat('9', ratio_width - 3) || '0.00' AS fmt
		FROM bench.line_style
	)
	SELECT format('%-*s %-28s = %*sx  %-20s %-4s  (rounds %s..%s)%s',
				  label_width, p || ':', num || '/' || den, ratio_width, to_char(ratio, fmt),
				  CASE kind WHEN 'max' THEN format('(target <= %sx)', target)
							WHEN 'min' THEN format('(target >= %sx)', target)
							ELSE '' END,
				  CASE WHEN kind = 'info' THEN 'info'
					   WHEN (kind = 'max' AND ratio <= target) OR (kind = 'min' AND ratio >= target) THEN 'PASS'
					   ELSE 'MISS' END,
				  to_char(lo, fmt), to_char(hi, fmt),
				  CASE WHEN note <> '' THEN '  ' || note ELSE '' END)
	FROM x, s
$$;

-- Stop the bench when a check fails.
CREATE FUNCTION bench.check(ok boolean, what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF ok IS NOT TRUE THEN
		RAISE EXCEPTION 'bench check failed: %', what;
	END IF;
END $$;

-- Read a table once, heap and TOAST (a whole row detoasts), so that a timed
-- side does not pay for the first read of its input.
CREATE FUNCTION bench.touch(t regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('SELECT sum(pg_column_size(x.*)) FROM %s x', t);
END $$;

-- No autovacuum on the tables the timed sides write, and on the audit
-- partitions (every side writes audit events): when its visits fall would
-- decide which side pays for them.
CREATE FUNCTION bench.autovacuum_off(tables regclass[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	t regclass;
BEGIN
	FOR t IN SELECT unnest(tables)
			 UNION ALL SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'scr.audit_event'::regclass LOOP
		EXECUTE format('ALTER TABLE %s SET (autovacuum_enabled = off, toast.autovacuum_enabled = off)', t);
	END LOOP;
END $$;

-- Wait until the audit writer has written every queued event and sealed
-- every event of this database: nothing it does for one side of a bench
-- runs into the next.  Call it outside a transaction that has an id (the
-- seal waits for it).  SECURITY DEFINER so a bench's gateway login may call
-- it where the bench grants it.
CREATE FUNCTION bench.quiesce() RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
	deadline timestamptz := clock_timestamp() + interval '120 seconds';
BEGIN
	PERFORM bench.check(scr.audit_flush('120 seconds'), 'the audit queue did not drain in 120 s');
	LOOP
		EXIT WHEN NOT EXISTS (
			SELECT FROM scr.audit_event e
			WHERE e.inserted_system = scr.audit_system_identifier()
			  AND e.inserted_xact >= coalesce((SELECT s.xact_hi FROM scr.audit_seal s
											   WHERE s.system_identifier = scr.audit_system_identifier()
											   ORDER BY s.seal_id DESC LIMIT 1), '0'::xid8));
		PERFORM bench.check(clock_timestamp() < deadline, 'the audit events were not sealed in 120 s');
		PERFORM pg_sleep(0.05);
	END LOOP;
END $$;
