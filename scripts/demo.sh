#!/usr/bin/env bash
# `make demo`: install what is missing, build and install scr, start a
# throwaway cluster under the checkout, CREATE EXTENSION scr, and walk
# through what scr does, printing each statement and its real output.
source "$(dirname "$0")/lib.sh"

ensure_packages $SCR_PACKAGES_BUILD
build_and_install

PORT=${SCR_DEMO_PORT:-54328}
cluster_start demo "$PORT"
trap 'cluster_stop demo' EXIT

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS scr_demo" -c "CREATE DATABASE scr_demo"
psql -X -q -d scr_demo -c "CREATE EXTENSION scr" \
	-c "ALTER DATABASE scr_demo SET search_path = \"\$user\", public, scr"
say "CREATE EXTENSION scr done; the demo follows"
echo
psql -X -d scr_demo -v ON_ERROR_STOP=1 --echo-queries -f "$SCR_ROOT/demo/demo.sql" 2>&1
echo
say "done; set SCR_DEMO_KEEP=1 to leave the cluster running (stop it with: make demo-stop)"
if [ "${SCR_DEMO_KEEP:-0}" = 1 ]; then
	trap - EXIT
	say "cluster left running: psql -h 127.0.0.1 -p $PORT -U postgres scr_demo"
fi
