#!/usr/bin/env bash
# make demo: ingest the sample events into a fresh store and show what
# security operations and auditors see, then check a connection to the fake
# Jira and the fake ServiceNow. Arguments: BINARY STORE EVENTS [FAKES_DIR].
set -euo pipefail
bin=$1 db=$2 events=$3 fakes=${4:-}

rm -rf "$db"
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s== %s%s\n$ %s\n' "$bold" "$1" "$plain" "$2"; }

step "Ingest the sample Noxys events (durable, idempotent)" "noxsync ingest $events"
"$bin" ingest "$events" --db "$db"

step "Ingest the same file again: every event is a duplicate, nothing changes" "noxsync ingest $events"
"$bin" ingest "$events" --db "$db" --quiet

step "A line that is not a valid event is kept as event.rejected, with the reason" "noxsync ingest -"
bad='{"event_id":"evt_demo_bad","timestamp":"2026-03-20T14:32:00Z","platform_id":"chatgpt","platform_name":"ChatGPT","user_email":"alice@acme.fr","risk_score":0.95,"classifications":[],"policy_decisions":{"action":"DENY","policy_id":"p","policy_name":"n"}}'
printf '%s\n' "$bad" | "$bin" ingest - --db "$db" || echo "(exit $?: a line was rejected)"

step "Open critical incidents on ChatGPT" "noxsync incidents --platform chatgpt --severity critical --status open"
"$bin" incidents --db "$db" --platform chatgpt --severity critical --status open

step "The history of one incident, found by a Noxys event id" "noxsync history evt_abc123def456"
"$bin" history evt_abc123def456 --db "$db"

step "An incident that recurred" "noxsync history inc_00000003"
"$bin" history inc_00000003 --db "$db"

if [ -n "$fakes" ]; then
  work=$(mktemp -d)
  pids=()
  trap 'kill "${pids[@]}" 2>/dev/null || true; wait "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
  start_fake() {  # NAME: starts build/tests/fakes/NAME on a free port; its URL in $work/NAME.url
    "$fakes/$1" --port 0 >"$work/$1.out" 2>&1 &
    pids+=($!)
    for _ in $(seq 50); do grep -q listening "$work/$1.out" && break; sleep 0.1; done
    sed -n 's/.*listening on //p' "$work/$1.out" >"$work/$1.url"
  }
  start_fake noxsync-fake-jira
  start_fake noxsync-fake-servicenow
  cat >"$work/noxsync.json" <<JSON
{"backends": {
  "jira": {"base_url": "$(cat "$work/noxsync-fake-jira.url")", "email": "noxsync@acme.example",
           "api_token": "\${JIRA_API_TOKEN}", "project": "SEC", "issue_type": "Security"},
  "servicenow": {"instance_url": "$(cat "$work/noxsync-fake-servicenow.url")", "username": "svc_noxsync",
                 "password": "\${SERVICENOW_PASSWORD}"}}}
JSON
  export SERVICENOW_PASSWORD=fake-servicenow-password
  step "Check the connection to Jira (here the fake Jira, noxsync-fake-jira)" "noxsync test-connection jira --config noxsync.json"
  JIRA_API_TOKEN=fake-jira-api-token "$bin" test-connection jira --config "$work/noxsync.json"
  step "The same with a wrong API token: one precise reason, and the token is not shown" "noxsync test-connection jira --config noxsync.json"
  JIRA_API_TOKEN=wrong-token "$bin" test-connection jira --config "$work/noxsync.json" || echo "(exit $?)"
  export JIRA_API_TOKEN=fake-jira-api-token
  step "Check the connection to ServiceNow (the fake ServiceNow)" "noxsync test-connection servicenow --config noxsync.json"
  "$bin" test-connection servicenow --config "$work/noxsync.json"
fi

step "The whole job on an accelerated clock: tickets, two-way sync, SLA, auto-resolve, outage and replay" "noxsync demo"
sync_db="$db-sync"
"$bin" demo --db "$sync_db"
db=$sync_db

step "What an auditor sees of one ticket" "noxsync history SEC-1"
"$bin" history SEC-1 --db "$db" | tail -n 8

step "Prove the log was not edited" "noxsync verify"
"$bin" verify --db "$db"

step "Rebuild indexes and projections from the log alone" "noxsync replay --rebuild"
"$bin" replay --rebuild --db "$db"

printf '\nThe store is in %s; try: %s incidents --db %s --json\n' "$db" "$bin" "$db"
