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
  jira_url=$(cat "$work/noxsync-fake-jira.url")
  sn_url=$(cat "$work/noxsync-fake-servicenow.url")
  cat >"$work/noxsync.json" <<JSON
{"backends": {
  "jira": {"base_url": "$jira_url", "email": "noxsync@acme.example",
           "api_token": "\${JIRA_API_TOKEN}", "project": "SEC", "issue_type": "Security"},
  "servicenow": {"instance_url": "$sn_url", "username": "svc_noxsync",
                 "password": "\${SERVICENOW_PASSWORD}", "http": {"max_attempts": 1}}},
 "sync": {"max_attempts": 1}}
JSON
  export SERVICENOW_PASSWORD=fake-servicenow-password
  step "Check the connection to Jira (here the fake Jira, noxsync-fake-jira)" "noxsync test-connection jira --config noxsync.json"
  JIRA_API_TOKEN=fake-jira-api-token "$bin" test-connection jira --config "$work/noxsync.json"
  step "The same with a wrong API token: one precise reason, and the token is not shown" "noxsync test-connection jira --config noxsync.json"
  JIRA_API_TOKEN=wrong-token "$bin" test-connection jira --config "$work/noxsync.json" || echo "(exit $?)"
  export JIRA_API_TOKEN=fake-jira-api-token
  step "Check the connection to ServiceNow (the fake ServiceNow)" "noxsync test-connection servicenow --config noxsync.json"
  "$bin" test-connection servicenow --config "$work/noxsync.json"

  control() {  # URL PATH JSON: the fakes' control API, acting as a person
    curl -sf -X POST "$1$2" -H 'Content-Type: application/json' -d "$3" >/dev/null
  }

  step "Sync: the rules turn incidents into Jira issues and ServiceNow incidents" "noxsync sync --once --config noxsync.json"
  NOXSYNC_LOG_LEVEL=warn "$bin" sync --once --config "$work/noxsync.json" --db "$db"

  step "A person moves SEC-1 to In Progress in Jira; the next pass brings it in and ServiceNow follows" \
       "(Jira) SEC-1 -> In Progress; noxsync sync --once; noxsync history SEC-1"
  sleep 1  # a later update time than the create, as a person's would be
  control "$jira_url" /_fake/issues/SEC-1/move '{"status":"In Progress"}'
  NOXSYNC_LOG_LEVEL=warn "$bin" sync --once --config "$work/noxsync.json" --db "$db" >/dev/null
  "$bin" history SEC-1 --db "$db" | tail -n 4

  step "Resolved in Noxys: both tickets follow" "noxsync incident set-status inc_00000001 Resolved --note ..."
  NOXSYNC_LOG_LEVEL=warn "$bin" incident set-status inc_00000001 Resolved --note "user coached, data deleted" \
    --config "$work/noxsync.json" --db "$db"
  "$bin" history inc_00000001 --db "$db" | tail -n 3

  step "ServiceNow fails while a new event arrives: Jira's ticket is not held up; ServiceNow's is given up and logged" \
       "noxsync ingest -; noxsync sync --once   (the demo allows one attempt)"
  control "$sn_url" /_fake/faults '{"endpoint":"GET /api/now/table/incident","status":503,"times":1}'
  printf '%s\n' '{"event_id":"evt_demo_outage","timestamp":"2026-03-21T09:00:00Z","platform_id":"gemini","platform_name":"Gemini","user_email":"zoe@acme.fr","risk_score":0.97,"classifications":[{"type":"IBAN","value":"FR76 ****","confidence":0.93}],"policy_decisions":{"action":"BLOCK","policy_id":"pol_block_pii","policy_name":"Block PII"}}' \
    | "$bin" ingest - --db "$db" --quiet
  NOXSYNC_LOG_LEVEL=off "$bin" sync --once --config "$work/noxsync.json" --db "$db"
  "$bin" history evt_demo_outage --db "$db" | tail -n 4

  step "ServiceNow is back: replay creates the missing ticket; run twice, it creates nothing more" \
       "noxsync replay --since 2026-03-21 --config noxsync.json   (twice)"
  NOXSYNC_LOG_LEVEL=off "$bin" replay --since 2026-03-21 --config "$work/noxsync.json" --db "$db"
  NOXSYNC_LOG_LEVEL=off "$bin" replay --since 2026-03-21 --config "$work/noxsync.json" --db "$db" | tail -n 1
  "$bin" history evt_demo_outage --db "$db" | tail -n 1

  step "Open incidents with tickets, by SLA deadline" "noxsync sla"
  "$bin" sla --db "$db" >"$work/sla.txt"
  head -n 6 "$work/sla.txt"
fi

step "Prove the log was not edited" "noxsync verify"
"$bin" verify --db "$db"

step "Rebuild indexes and projections from the log alone" "noxsync replay --rebuild"
"$bin" replay --rebuild --db "$db"

printf '\nThe store is in %s; try: %s incidents --db %s --json\n' "$db" "$bin" "$db"
