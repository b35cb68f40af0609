/*
 * access_policy.c
 *		The row-level security decision: may the acting professional, for
 *		the current purpose, see this row?
 *
 * Every patient-data table's policy calls scr.may_read_patient(patient_id)
 * or scr.may_read_entry(patient_id, kind, sensitivity, category, ods_code).
 * They answer from a per-backend cache, built on first use with the acting
 * role profile:
 *   - the patients it has a legitimate relationship with (through the
 *     professional or the organisation), merged patients included;
 *   - the entry kinds its job role's activities allow, each up to a
 *     sensitivity label;
 *   - whether it may see demographics, and which categories are sealed.
 * The cache is dropped when any table it was built from changes: statement
 * triggers on those tables send a relcache invalidation for the table
 * (delivered to every backend at commit, to this one at the next command),
 * and this module's relcache callback notices it.  It is also rebuilt when
 * a relationship it relied on starts or ends, and when the context changes.
 *
 * The cache is built by SPI queries run as the tables' owner with forced
 * row-level security waived (as PostgreSQL's own foreign-key checks do), so
 * policies on those tables cannot recurse.  The functions are PARALLEL
 * RESTRICTED: parallel workers cannot see this backend's context, so the
 * policy is evaluated in the leader and parallel plans give the same rows.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "scr.h"

#define NAMELEN 65

typedef struct AccessCache
{
	bool		valid;
	char		role_profile_id[NAMELEN];
	char		professional_id[NAMELEN];
	char		ods_code[NAMELEN];
	char		purpose[NAMELEN];
	TimestampTz valid_until;	/* a relationship starts or ends then */
	bool		demographics;
	int			nkinds;
	char	  **kinds;			/* arrays sized to what was loaded */
	char	   *max_sensitivity;
	int			nsealed;
	char	  **sealed;
	bool		reads_in;		/* this organisation reads others' entries */
	int			nprivate;		/* organisations that do not share out */
	char	  **private_orgs;
	int64		patient;		/* the patient in context, 0 if none */
	HTAB	   *patient_group;	/* that patient's merge group */
	HTAB	   *related;		/* int64 patient ids */
	HTAB	   *directives;		/* PatientRules by patient id */
} AccessCache;

/* A consent provision that applies to the acting professional. */
typedef struct ConsentRule
{
	bool		deny;
	bool		overridden;		/* dissent overridden by a legal break-glass */
	char		purpose[17];	/* empty: any purpose */
	char		kind[NAMELEN];	/* empty: any kind */
	char		category[NAMELEN];	/* empty: any category */
} ConsentRule;

/* The provisions that apply to one patient (merged records included). */
typedef struct PatientRules
{
	int64		patient_id;
	int			nrules;
	ConsentRule *rules;
} PatientRules;

static AccessCache cache = {0};

/*
 * Patients whose wishes limit reporting and secondary use, for every
 * reader (no context needed): those who dissent from the shared record, and
 * those with a National Data Opt-out or a Type 1 objection.  Built and
 * dropped like the access cache.
 */
typedef struct PopulationCache
{
	bool		valid;
	HTAB	   *dissent;		/* int64 patient ids, merge groups included */
	HTAB	   *opted_out;
	int			nsealed;
	char	  **sealed;
	TimestampTz valid_until;	/* a dissent starts or ends then */
} PopulationCache;

static PopulationCache population = {0};
static MemoryContext population_context = NULL;
static TimestampTz last_statement = 0;

/*
 * Caches built under a transaction snapshot (REPEATABLE READ, SERIALIZABLE)
 * hold that snapshot's view of consent and relationships: right for that
 * transaction, stale for the next one, so they end with it.  Under READ
 * COMMITTED each load reads the latest committed state and invalidations
 * keep it current, so the caches live on.
 */
static bool built_under_xact_snapshot = false;
static uint64 generation = 0;	/* bumped by every relevant invalidation */
static MemoryContext cache_context = NULL;

/* Tables the cache is built from, by OID, once known. */
static const char *const watched_names[] = {
	"relationship", "role_profile", "professional", "job_role_activity",
	"activity_access", "sensitivity_category", "patient_merge",
	"consent_directive", "break_glass", "patient_opt_out", "organisation_sharing", "team_member"
};

/*
 * SQL: consent directive d names the acting professional ($1), their
 * organisation ($2), a team they belong to or the job role of their role
 * profile ($4) (scr._directive_names_actor); or names no actor (everyone).
 */
#define DIRECTIVE_NAMES_ACTOR "scr._directive_names_actor(d, $1, $2, $4)"
#define DIRECTIVE_NO_ACTOR \
	"num_nonnulls(d.actor_professional, d.actor_ods, d.actor_team, d.actor_job_role) = 0"
static Oid	watched[lengthof(watched_names)];
static bool watched_known = false;

/* Purposes of use that are direct care. */
static const char *const direct_care[] = {"TREAT", "ETREAT", "COC", "CAREMGT"};

static void
cache_invalidate(void)
{
	cache.valid = false;
	if (cache_context)
		MemoryContextReset(cache_context);
	cache.related = NULL;
	cache.directives = NULL;
}

/*
 * A relcache invalidation of any watched table drops the cache.  It only
 * marks it: the callback can run in the middle of cache_load (the loading
 * queries open tables), and the generation count tells cache_load that what
 * it read may already be stale.
 */
static void
access_relcache_callback(Datum arg pg_attribute_unused(), Oid relid)
{
	int			i;
	bool		ours = !OidIsValid(relid) || !watched_known;

	for (i = 0; i < (int) lengthof(watched) && !ours; i++)
		ours = (watched[i] == relid);
	if (ours)
	{
		generation++;
		cache.valid = false;
		population.valid = false;
	}
}

static void
access_xact_callback(XactEvent event, void *arg pg_attribute_unused())
{
	if ((event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		 event == XACT_EVENT_PREPARE) && built_under_xact_snapshot)
	{
		generation++;
		cache.valid = false;
		population.valid = false;
		built_under_xact_snapshot = false;
	}
}

void
access_policy_init(void)
{
	CacheRegisterRelcacheCallback(access_relcache_callback, (Datum) 0);
	RegisterXactCallback(access_xact_callback, NULL);
}

/*
 * Run fn's SPI queries as the owner of scr.relationship (the extension's
 * owner), with forced row-level security waived, as RI checks do.
 */
static Oid
tables_owner(void)
{
	Oid			nsp = get_namespace_oid("scr", false);
	Oid			relid = get_relname_relid("relationship", nsp);
	HeapTuple	tup;
	Oid			owner;

	if (!OidIsValid(relid))
		elog(ERROR, "scr.relationship is missing");
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

static void
learn_watched(void)
{
	Oid			nsp = get_namespace_oid("scr", false);
	int			i;

	for (i = 0; i < (int) lengthof(watched_names); i++)
		watched[i] = get_relname_relid(watched_names[i], nsp);
	watched_known = true;
}

/*
 * The first column of every row of the last SPI result, copied into cxt.
 * Sized to the result: nothing is ever cut off (a cut-off list of sealed
 * categories or private organisations would fail open).
 */
static char **
spi_column_strings(MemoryContext cxt, int *n)
{
	char	  **result = MemoryContextAlloc(cxt, sizeof(char *) * (SPI_processed + 1));
	uint64		i;

	for (i = 0; i < SPI_processed; i++)
		result[i] = MemoryContextStrdup(cxt, SPI_getvalue(SPI_tuptable->vals[i],
														  SPI_tuptable->tupdesc, 1));
	*n = (int) SPI_processed;
	return result;
}

static void
spi_run(const char *sql, int nargs, Datum *args)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};

	if (SPI_execute_with_args(sql, nargs, types, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "scr: access cache query failed");
}

/*
 * A set of patient ids in cxt, holding the first (bigint) column of every
 * row of the last SPI result; with keep = false, an empty set.
 */
static HTAB *
id_set_from_spi(const char *name, MemoryContext cxt, bool keep)
{
	HASHCTL		ctl;
	HTAB	   *set;
	uint64		i;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(int64);
	ctl.hcxt = cxt;
	set = hash_create(name, 256, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	for (i = 0; keep && i < SPI_processed; i++)
	{
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
													 SPI_tuptable->tupdesc, 1, &isnull));

		if (!isnull)
			hash_search(set, &id, HASH_ENTER, NULL);
	}
	return set;
}

/*
 * Pick up invalidations other sessions have committed, once a statement
 * (a table already locked in this transaction does not do it for us).
 */
static void
accept_invalidations(void)
{
	if (GetCurrentStatementStartTimestamp() != last_statement)
	{
		AcceptInvalidationMessages();
		last_statement = GetCurrentStatementStartTimestamp();
	}
}

/*
 * Run fn with SPI as the owner of scr's tables, with forced row-level
 * security waived, as PostgreSQL's own foreign-key checks do: the caches
 * read tables whose policies call back into this file.
 */
static void
run_as_owner(void (*fn) (void *), void *arg)
{
	Oid			save_userid;
	int			save_sec;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(tables_owner(),
						   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		fn(arg);
		SPI_finish();
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_END_TRY();
}

typedef struct AccessCacheRequest
{
	const char *professional;
	const char *role_profile;
	const char *ods;
	const char *purpose;
} AccessCacheRequest;

/* The queries that fill the access cache (run by run_as_owner). */
static void
load_access_cache(void *arg)
{
	AccessCacheRequest *req = (AccessCacheRequest *) arg;
	const char *professional = req->professional;
	const char *role_profile = req->role_profile;
	const char *ods = req->ods;
	Datum		args[4];
	HASHCTL		ctl;
	uint64		i;
	bool		active;

	/*
	 * Patients related now, through the professional or the
	 * organisation -- none when the professional or the role profile has
	 * been deactivated since the context opened.
	 */
	args[0] = CStringGetTextDatum(professional);
	args[1] = CStringGetTextDatum(role_profile);
	spi_run("SELECT 1 FROM scr.role_profile rp JOIN scr.professional p USING (professional_id)"
			" WHERE p.professional_id = $1 AND rp.role_profile_id = $2 AND rp.active AND p.active",
			2, args);
	active = SPI_processed > 0;
	args[1] = CStringGetTextDatum(ods);
	args[2] = CStringGetTextDatum(req->purpose);
	args[3] = CStringGetTextDatum(role_profile);
	spi_run("WITH rel AS ("
			"  SELECT DISTINCT coalesce(p.merged_into, p.patient_id) AS root"
			"  FROM (SELECT r.patient_id FROM scr.relationship r"
			"        WHERE (r.professional_id = $1 OR r.ods_code = $2)"
			"          AND r.valid_from <= statement_timestamp()"
			"          AND (r.valid_to IS NULL OR r.valid_to > statement_timestamp())"
			"        UNION ALL"
			"        SELECT d.patient_id FROM scr.consent_directive d"	/* permission to view */
			"        WHERE d.status = 'active' AND d.provision = 'permit'"
			"          AND " DIRECTIVE_NAMES_ACTOR
			"          AND (NOT d.once OR d.used_at IS NOT NULL)"
			"          AND (d.purpose IS NULL OR d.purpose = $3)"
			"          AND d.entry_kind IS NULL AND d.sensitivity_category IS NULL"
			"          AND d.valid_from <= statement_timestamp()"
			"          AND (d.valid_to IS NULL OR d.valid_to > statement_timestamp())"
			"        UNION ALL"
			"        SELECT b.patient_id FROM scr.break_glass b"
			"        WHERE b.professional_id = $1 AND b.expires_at > statement_timestamp()) x"
			"  JOIN scr.patient p ON p.patient_id = x.patient_id)"
			" SELECT root FROM rel"	/* the survivors, then their merged records */
			" UNION ALL"
			" SELECT p.patient_id FROM scr.patient p JOIN rel ON p.merged_into = rel.root", 4, args);
	cache.related = id_set_from_spi("scr related patients", cache_context, active);

	/* When the next relationship, directive or break-glass starts or ends. */
	spi_run("SELECT min(t) FROM ("
			" SELECT r.valid_to AS t FROM scr.relationship r WHERE r.professional_id = $1 OR r.ods_code = $2"
			" UNION ALL SELECT r.valid_from FROM scr.relationship r WHERE r.professional_id = $1 OR r.ods_code = $2"
			" UNION ALL SELECT d.valid_to FROM scr.consent_directive d WHERE d.status = 'active'"
			" UNION ALL SELECT d.valid_from FROM scr.consent_directive d WHERE d.status = 'active'"
			" UNION ALL SELECT b.expires_at FROM scr.break_glass b WHERE b.professional_id = $1) x"
			" WHERE t > statement_timestamp()", 2, args);
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		cache.valid_until = isnull ? DT_NOEND : DatumGetTimestampTz(d);
	}

	/*
	 * Consent provisions that apply to this professional, for every
	 * record of the patient's merge group: denials for everyone or for
	 * them, and permits that unseal a category for them.
	 */
	spi_run("WITH d AS ("
			"  SELECT coalesce(dp.merged_into, dp.patient_id) AS root, d.provision = 'deny' AS deny,"
			"         d.provision = 'deny' AND d.entry_kind IS NULL AND d.sensitivity_category IS NULL"
			"           AND EXISTS (SELECT FROM scr.break_glass b JOIN scr.patient bp ON bp.patient_id = b.patient_id"
			"                       WHERE b.professional_id = $1 AND b.overrides_dissent"
			"                         AND b.expires_at > statement_timestamp()"
			"                         AND coalesce(bp.merged_into, bp.patient_id) = coalesce(dp.merged_into, dp.patient_id))"
			"           AS overridden,"
			"         coalesce(d.purpose, '') AS purpose, coalesce(d.entry_kind, '') AS kind,"
			"         coalesce(d.sensitivity_category, '') AS category"
			"  FROM scr.consent_directive d JOIN scr.patient dp ON dp.patient_id = d.patient_id"
			"  WHERE d.status = 'active'"
			"    AND d.valid_from <= statement_timestamp()"
			"    AND (d.valid_to IS NULL OR d.valid_to > statement_timestamp())"
			"    AND (d.provision = 'deny' OR d.sensitivity_category IS NOT NULL)"
			"    AND (" DIRECTIVE_NO_ACTOR " OR " DIRECTIVE_NAMES_ACTOR "))"
			" SELECT root, deny, overridden, purpose, kind, category FROM d"	/* each survivor */
			" UNION ALL"	/* and each record merged into it */
			" SELECT p.patient_id, d.deny, d.overridden, d.purpose, d.kind, d.category"
			" FROM d JOIN scr.patient p ON p.merged_into = d.root", 4, args);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(PatientRules);
	ctl.hcxt = cache_context;
	cache.directives = hash_create("scr consent rules", 64, &ctl,
								   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		bool		isnull;
		bool		found;
		int64		id = DatumGetInt64(SPI_getbinval(tup, td, 1, &isnull));
		PatientRules *pr = hash_search(cache.directives, &id, HASH_ENTER, &found);
		ConsentRule *rule;

		if (!found)
		{
			pr->nrules = 0;
			pr->rules = NULL;
		}
		pr->rules = pr->rules ? repalloc(pr->rules, sizeof(ConsentRule) * (pr->nrules + 1))
			: MemoryContextAlloc(cache_context, sizeof(ConsentRule));
		rule = &pr->rules[pr->nrules++];
		rule->deny = DatumGetBool(SPI_getbinval(tup, td, 2, &isnull));
		rule->overridden = DatumGetBool(SPI_getbinval(tup, td, 3, &isnull));
		strlcpy(rule->purpose, SPI_getvalue(tup, td, 4), sizeof(rule->purpose));
		strlcpy(rule->kind, SPI_getvalue(tup, td, 5), NAMELEN);
		strlcpy(rule->category, SPI_getvalue(tup, td, 6), NAMELEN);
	}

	/*
	 * A patient in context (the calling system opened one patient's
	 * record): only that patient's merge group is visible.
	 */
	cache.patient = access_context_patient_id();
	cache.patient_group = NULL;
	if (cache.patient != 0)
	{
		char		idtext[32];

		snprintf(idtext, sizeof(idtext), INT64_FORMAT, cache.patient);
		args[0] = CStringGetTextDatum(idtext);
		spi_run("SELECT p.patient_id FROM scr.patient p JOIN scr.patient c"
				" ON coalesce(p.merged_into, p.patient_id) = coalesce(c.merged_into, c.patient_id)"
				" WHERE c.patient_id = $1::bigint", 1, args);
		cache.patient_group = id_set_from_spi("scr patient in context", cache_context, true);
	}

	/* What the role profile's activities allow. */
	args[0] = CStringGetTextDatum(role_profile);
	spi_run("SELECT aa.kind, max(aa.max_sensitivity)::text"
			" FROM scr.role_profile rp"
			" JOIN scr.job_role_activity jra ON jra.job_role = rp.job_role"
			" JOIN scr.activity_access aa ON aa.activity = jra.activity"
			" WHERE rp.role_profile_id = $1 AND rp.active"
			" GROUP BY aa.kind ORDER BY aa.kind", 1, args);
	cache.kinds = spi_column_strings(cache_context, &cache.nkinds);
	cache.max_sensitivity = MemoryContextAlloc(cache_context, cache.nkinds + 1);
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *sens = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);

		cache.max_sensitivity[i] = sens ? sens[0] : 'N';
	}
	spi_run("SELECT 1 FROM scr.role_profile rp"
			" JOIN scr.job_role_activity jra ON jra.job_role = rp.job_role"
			" WHERE rp.role_profile_id = $1 AND rp.active AND jra.activity = 'B1001'", 1, args);
	cache.demographics = SPI_processed > 0;

	args[0] = CStringGetTextDatum(ods);
	spi_run("SELECT coalesce((SELECT reads_in FROM scr.organisation_sharing WHERE ods_code = $1), true)",
			1, args);
	{
		bool		isnull;

		cache.reads_in = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	spi_run("SELECT ods_code FROM scr.organisation_sharing WHERE NOT shares_out ORDER BY ods_code", 0, NULL);
	cache.private_orgs = spi_column_strings(cache_context, &cache.nprivate);

	spi_run("SELECT category FROM scr.sensitivity_category WHERE sealed ORDER BY category", 0, NULL);
	cache.sealed = spi_column_strings(cache_context, &cache.nsealed);
}

/* Build the cache for the acting context. */
static void
cache_load(const char *professional, const char *role_profile, const char *ods,
		   const char *purpose)
{
	AccessCacheRequest req = {professional, role_profile, ods, purpose};
	uint64		start_generation;

	cache_invalidate();
	start_generation = generation;
	if (cache_context == NULL)
		cache_context = AllocSetContextCreate(TopMemoryContext, "scr access cache",
											  ALLOCSET_DEFAULT_SIZES);
	if (!watched_known)
		learn_watched();

	run_as_owner(load_access_cache, &req);

	strlcpy(cache.role_profile_id, role_profile, NAMELEN);
	strlcpy(cache.professional_id, professional, NAMELEN);
	strlcpy(cache.ods_code, ods, NAMELEN);
	strlcpy(cache.purpose, purpose, NAMELEN);
	/* Serve it for this call; rebuild next time if it changed meanwhile. */
	cache.valid = (generation == start_generation);
	built_under_xact_snapshot |= IsolationUsesXactSnapshot();
}

/*
 * The cache for the acting context, built or rebuilt as needed; NULL when
 * there is no context or its purpose is not direct care.
 */
static AccessCache *
current_cache(void)
{
	static uint64 checked_version = 0;
	static TimestampTz checked_statement = 0;
	static bool checked_direct = false;

	const char *professional;
	const char *role_profile;
	const char *ods;
	const char *purpose;
	bool		direct = false;
	int			i;

	/*
	 * Fast path, once per row: the same context, statement and cache as the
	 * last row checked.
	 */
	if (cache.valid && checked_version == access_context_version() &&
		checked_statement == GetCurrentStatementStartTimestamp())
		return checked_direct ? &cache : NULL;

	professional = access_context_professional();
	role_profile = access_context_role_profile();
	ods = access_context_organisation();
	purpose = access_context_purpose();
	if (professional == NULL)
		return NULL;
	/* A context lasts no longer than its token (a session scope included). */
	if (GetCurrentStatementStartTimestamp() >= access_context_expires())
		return NULL;
	for (i = 0; i < (int) lengthof(direct_care); i++)
		direct |= (strcmp(purpose, direct_care[i]) == 0);
	if (!direct)
		return NULL;

	accept_invalidations();
	if (!cache.valid ||
		strcmp(cache.role_profile_id, role_profile) != 0 ||
		strcmp(cache.professional_id, professional) != 0 ||
		strcmp(cache.ods_code, ods) != 0 ||
		strcmp(cache.purpose, purpose) != 0 ||
		cache.patient != access_context_patient_id() ||
		GetCurrentStatementStartTimestamp() >= cache.valid_until)
		cache_load(professional, role_profile, ods, purpose);
	if (cache.valid)
	{
		checked_version = access_context_version();
		checked_statement = GetCurrentStatementStartTimestamp();
		checked_direct = true;
	}
	return &cache;
}

/*
 * A legitimate relationship with the patient, and, when the context names a
 * patient, the patient is that one (or merged with it).
 */
static bool
related(AccessCache *c, int64 patient_id)
{
	bool		found;

	if (c->patient_group)
	{
		hash_search(c->patient_group, &patient_id, HASH_FIND, &found);
		if (!found)
			return false;
	}
	hash_search(c->related, &patient_id, HASH_FIND, &found);
	return found;
}

/* Compare a text datum with a C string without copying it. */
static bool
text_equals(text *t, const char *s)
{
	int			len = VARSIZE_ANY_EXHDR(t);

	return strlen(s) == (size_t) len && memcmp(VARDATA_ANY(t), s, len) == 0;
}

/* Whether a patient's consent rules deny an entry of this kind and category. */
static bool
consent_denies(PatientRules *rules, text *kind, text *category)
{
	int			i;

	for (i = 0; rules && i < rules->nrules; i++)
	{
		ConsentRule *r = &rules->rules[i];

		if (!r->deny || r->overridden)
			continue;
		if (r->purpose[0] && strcmp(r->purpose, access_context_purpose()) != 0)
			continue;
		if ((r->kind[0] == '\0' || text_equals(kind, r->kind)) &&
			(r->category[0] == '\0' || (category && text_equals(category, r->category))))
			return true;
	}
	return false;
}

/* A row is let through: its patient's read is audited (audit_read.c). */
static Datum
let_through(int64 patient_id)
{
	audit_note_read(patient_id);
	PG_RETURN_BOOL(true);
}

/* scr.may_read_patient(patient_id bigint) returns boolean */
PG_FUNCTION_INFO_V1(may_read_patient);
Datum
may_read_patient(PG_FUNCTION_ARGS)
{
	AccessCache *c;

	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	c = current_cache();
	if (c != NULL && c->demographics && related(c, PG_GETARG_INT64(0)))
		return let_through(PG_GETARG_INT64(0));
	PG_RETURN_BOOL(false);
}

/*
 * scr.may_read_entry(patient_id bigint, kind text, sensitivity "char",
 *                    category text, ods_code text) returns boolean
 */
PG_FUNCTION_INFO_V1(may_read_entry);
Datum
may_read_entry(PG_FUNCTION_ARGS)
{
	AccessCache *c;
	text	   *kind;
	text	   *category;
	char		sensitivity;
	int			i;
	bool		allowed = false;
	PatientRules *rules;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(4))
		PG_RETURN_BOOL(false);
	c = current_cache();
	if (c == NULL || !related(c, PG_GETARG_INT64(0)))
		PG_RETURN_BOOL(false);

	kind = PG_GETARG_TEXT_PP(1);
	sensitivity = PG_GETARG_CHAR(2);
	category = PG_ARGISNULL(3) ? NULL : PG_GETARG_TEXT_PP(3);
	for (i = 0; i < c->nkinds && !allowed; i++)
		allowed = text_equals(kind, c->kinds[i]) && sensitivity <= c->max_sensitivity[i];
	if (!allowed)
		PG_RETURN_BOOL(false);

	/*
	 * Sharing agreements: another organisation's entry only if this one
	 * reads in and that one shares out.
	 */
	if (!text_equals(PG_GETARG_TEXT_PP(4), c->ods_code))
	{
		text	   *ods = PG_GETARG_TEXT_PP(4);

		if (!c->reads_in)
			PG_RETURN_BOOL(false);
		for (i = 0; i < c->nprivate; i++)
			if (text_equals(ods, c->private_orgs[i]))
				PG_RETURN_BOOL(false);
	}

	/* Consent: any matching denial hides the entry (deny overrides permit). */
	{
		int64		patient_id = PG_GETARG_INT64(0);

		rules = hash_search(c->directives, &patient_id, HASH_FIND, NULL);
	}
	if (consent_denies(rules, kind, category))
		PG_RETURN_BOOL(false);

	/*
	 * Sealed categories: only the authoring organisation, or whom the
	 * patient permitted.
	 */
	if (category)
	{
		for (i = 0; i < c->nsealed; i++)
			if (text_equals(category, c->sealed[i]))
			{
				int			j;

				if (text_equals(PG_GETARG_TEXT_PP(4), c->ods_code))
					return let_through(PG_GETARG_INT64(0));
				for (j = 0; rules && j < rules->nrules; j++)
					if (!rules->rules[j].deny && text_equals(category, rules->rules[j].category))
						return let_through(PG_GETARG_INT64(0));
				PG_RETURN_BOOL(false);
			}
	}
	return let_through(PG_GETARG_INT64(0));
}

/*
 * Statement trigger on the tables the cache is built from: tell every
 * backend (at commit) and this one (at the next command) to drop it.
 */
PG_FUNCTION_INFO_V1(access_invalidate);
Datum
access_invalidate(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("scr.access_invalidate() must be called as a trigger")));
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}

/*
 * scr.entry_withheld_reason(patient_id, kind, sensitivity, category,
 * ods_code) returns text: NULL when the acting professional may see the
 * entry, else the class of reason it is withheld ('no_relationship',
 * 'role', 'sharing', 'consent', 'sealed') -- never anything of its content.  For the
 * patient summary's withheld counts.
 */
PG_FUNCTION_INFO_V1(entry_withheld_reason);
Datum
entry_withheld_reason(PG_FUNCTION_ARGS)
{
	AccessCache *c;
	Datum		allowed;
	text	   *kind;
	text	   *category;
	char		sensitivity;
	int			i;
	bool		role_ok = false;
	PatientRules *rules;
	int64		patient_id;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(4))
		PG_RETURN_TEXT_P(cstring_to_text("no_relationship"));
	allowed = may_read_entry(fcinfo);
	if (DatumGetBool(allowed))
		PG_RETURN_NULL();

	c = current_cache();
	patient_id = PG_GETARG_INT64(0);
	if (c == NULL || !related(c, patient_id))
		PG_RETURN_TEXT_P(cstring_to_text("no_relationship"));
	kind = PG_GETARG_TEXT_PP(1);
	sensitivity = PG_GETARG_CHAR(2);
	category = PG_ARGISNULL(3) ? NULL : PG_GETARG_TEXT_PP(3);
	for (i = 0; i < c->nkinds && !role_ok; i++)
		role_ok = text_equals(kind, c->kinds[i]) && sensitivity <= c->max_sensitivity[i];
	if (!role_ok)
		PG_RETURN_TEXT_P(cstring_to_text("role"));
	if (!text_equals(PG_GETARG_TEXT_PP(4), c->ods_code))
	{
		text	   *ods = PG_GETARG_TEXT_PP(4);

		if (!c->reads_in)
			PG_RETURN_TEXT_P(cstring_to_text("sharing"));
		for (i = 0; i < c->nprivate; i++)
			if (text_equals(ods, c->private_orgs[i]))
				PG_RETURN_TEXT_P(cstring_to_text("sharing"));
	}
	rules = hash_search(c->directives, &patient_id, HASH_FIND, NULL);
	if (consent_denies(rules, kind, category))
		PG_RETURN_TEXT_P(cstring_to_text("consent"));
	/* Related, allowed by role, not denied: only a seal withholds it. */
	PG_RETURN_TEXT_P(cstring_to_text("sealed"));
}

/* Fill set with the first column (bigint) of every row of query. */
static HTAB *
load_id_set(const char *name, const char *query)
{
	spi_run(query, 0, NULL);
	return id_set_from_spi(name, population_context, true);
}

/* The queries that fill the population cache (run by run_as_owner). */
static void
load_population(void *arg pg_attribute_unused())
{
	population.dissent =
		load_id_set("scr dissent",
					"WITH r AS (SELECT DISTINCT coalesce(dp.merged_into, dp.patient_id) AS root"
					"  FROM scr.consent_directive d JOIN scr.patient dp ON dp.patient_id = d.patient_id"
					"  WHERE d.status = 'active' AND d.provision = 'deny'"
					"    AND " DIRECTIVE_NO_ACTOR
					"    AND d.entry_kind IS NULL AND d.sensitivity_category IS NULL AND d.purpose IS NULL"
					"    AND d.valid_from <= statement_timestamp()"
					"    AND (d.valid_to IS NULL OR d.valid_to > statement_timestamp()))"
					" SELECT root FROM r UNION ALL"
					" SELECT p.patient_id FROM scr.patient p JOIN r ON p.merged_into = r.root");
	population.opted_out =
		load_id_set("scr opted out",
					"WITH r AS (SELECT DISTINCT coalesce(op.merged_into, op.patient_id) AS root"
					"  FROM scr.patient_opt_out o JOIN scr.patient op ON op.patient_id = o.patient_id"
					"  WHERE o.national_data_opt_out OR o.type1_objection)"
					" SELECT root FROM r UNION ALL"
					" SELECT p.patient_id FROM scr.patient p JOIN r ON p.merged_into = r.root");
	spi_run("SELECT category FROM scr.sensitivity_category WHERE sealed ORDER BY category", 0, NULL);
	population.sealed = spi_column_strings(population_context, &population.nsealed);
	spi_run("SELECT min(t) FROM (SELECT valid_from AS t FROM scr.consent_directive WHERE status = 'active'"
			" UNION ALL SELECT valid_to FROM scr.consent_directive WHERE status = 'active') x"
			" WHERE t > statement_timestamp()", 0, NULL);
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		population.valid_until = isnull ? DT_NOEND : DatumGetTimestampTz(d);
	}
}

static PopulationCache *
current_population(void)
{
	uint64		start_generation;

	accept_invalidations();
	if (population.valid && GetCurrentStatementStartTimestamp() < population.valid_until)
		return &population;

	if (population_context == NULL)
		population_context = AllocSetContextCreate(TopMemoryContext, "scr population cache",
												   ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(population_context);
	if (!watched_known)
		learn_watched();
	start_generation = generation;

	run_as_owner(load_population, NULL);
	population.valid = (generation == start_generation);
	built_under_xact_snapshot |= IsolationUsesXactSnapshot();
	return &population;
}

static bool
in_set(HTAB *set, int64 id)
{
	bool		found;

	hash_search(set, &id, HASH_FIND, &found);
	return found;
}

/*
 * scr.may_report(patient_id bigint, sensitivity "char", category text)
 * returns boolean: the reporting policy.  Reports never include patients who
 * dissent from the shared record, very restricted (V) entries, or entries
 * in sealed categories.  National Data Opt-out and Type 1 objections do not
 * apply here (reporting for the running of services is not secondary use).
 */
PG_FUNCTION_INFO_V1(may_report);
Datum
may_report(PG_FUNCTION_ARGS)
{
	PopulationCache *pc;
	int			i;

	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	pc = current_population();
	if (in_set(pc->dissent, PG_GETARG_INT64(0)))
		PG_RETURN_BOOL(false);
	if (!PG_ARGISNULL(1) && PG_GETARG_CHAR(1) == 'V')
		PG_RETURN_BOOL(false);
	if (!PG_ARGISNULL(2))
	{
		text	   *category = PG_GETARG_TEXT_PP(2);

		for (i = 0; i < pc->nsealed; i++)
			if (text_equals(category, pc->sealed[i]))
				PG_RETURN_BOOL(false);
	}
	audit_note_report();
	PG_RETURN_BOOL(true);
}

/*
 * scr.may_use_secondary(patient_id bigint, category text) returns boolean:
 * secondary use (research, planning) leaves out patients with a National
 * Data Opt-out, a Type 1 objection or dissent, and every entry in a
 * sensitive category.
 */
PG_FUNCTION_INFO_V1(may_use_secondary);
Datum
may_use_secondary(PG_FUNCTION_ARGS)
{
	PopulationCache *pc;
	int64		id;

	if (PG_ARGISNULL(0) || !PG_ARGISNULL(1))
		PG_RETURN_BOOL(false);
	pc = current_population();
	id = PG_GETARG_INT64(0);
	if (in_set(pc->dissent, id) || in_set(pc->opted_out, id))
		PG_RETURN_BOOL(false);
	audit_note_secondary();
	PG_RETURN_BOOL(true);
}
