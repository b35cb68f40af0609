# scr: PGXS build.  `make demo` and `make test` are the two commands of the
# README; everything else is standard PGXS (make, make install, installcheck).

EXTENSION = scr
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" scr.control)

MODULE_big = scr
OBJS = src/scr.o src/nhs_number_parse.o src/nhs_number.o src/feed.o src/entry_parse.o src/access_context.o src/access_policy.o src/pseudonym.o src/string_distance.o src/linkage_compare.o src/linkage.o src/linkage_candidates.o src/audit_trigger.o src/audit_queue.o src/audit_read.o src/audit_seal.o

# The install script is these pieces, in this order.
SQL_PIECES = src/scr.sql src/nhs_number.sql src/record.sql src/access.sql src/entry_parse.sql src/feed.sql src/access_context.sql src/access_policy.sql src/consent.sql src/views.sql src/secondary.sql src/relationships.sql src/linkage_compare.sql src/linkage.sql src/linkage_candidates.sql src/audit.sql src/audit_queue.sql src/audit_read.sql src/audit_seal.sql src/audit_reports.sql src/care_plan.sql src/end_of_life.sql src/alerting.sql src/care_feed.sql
DATA_built = scr--$(EXTVERSION).sql

REGRESS = install nhs_number nhs_number_vectors nhs_number_index feed_setup feed_person feed_entry feed_batch patient_merge feed_security feed_teardown access_context access_policy consent secondary relationships catalog linkage_compare linkage access_attacks audit audit_read audit_reports care_plan alerting audit_chain
REGRESS_OPTS = --load-extension=scr
ISOLATION_OPTS = --load-extension=scr
ISOLATION = nhs_number_unique feed_same_person feed_same_local_id feed_same_entry feed_version_race access_relationship_change access_consent_change consent_view_once_race feed_care_episode linkage_same_person linkage_merge_race linkage_review_race linkage_weight_change audit_seal_race care_task_race

EXTRA_CLEAN = results output_iso

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)

# The server's headers are not -Wextra clean; reading them as system headers
# keeps -Wall -Wextra -Werror about our code only.
PG_CPPFLAGS = -isystem $(shell $(PG_CONFIG) --includedir-server)
include $(PGXS)

scr--$(EXTVERSION).sql: $(SQL_PIECES)
	cat $^ > $@

.PHONY: demo demo-stop test bench print-regress print-isolation
demo:
	scripts/demo.sh

test:
	scripts/run_tests.sh

bench:
	scripts/bench.sh

# For scripts/run_tests.sh: the test lists, from one place.
print-regress:
	@echo $(REGRESS)
print-isolation:
	@echo $(ISOLATION)

demo-stop:
	@. scripts/lib.sh && cluster_stop demo
