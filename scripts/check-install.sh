#!/usr/bin/env bash
# Installs the build into a scratch prefix and builds the .deb, then checks
# what a machine would get: the binary, the hardened systemd unit, the
# example configuration, and a package that lists them. Run by ctest.
set -euo pipefail
build=$1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

cmake --install "$build" --prefix "$scratch/root" >/dev/null
test -x "$scratch/root/bin/noxsync" || { echo "no bin/noxsync"; exit 1; }
"$scratch/root/bin/noxsync" --version
unit="$scratch/root/lib/systemd/system/noxsync.service"
for key in 'Restart=on-failure' 'DynamicUser=yes' 'NoNewPrivileges=yes' 'ProtectSystem=strict' \
           'StateDirectory=noxsync' 'ExecStart=noxsync serve --config /etc/noxsync/noxsync.json --db /var/lib/noxsync/store'; do
  grep -qxF "$key" "$unit" || { echo "the unit lacks $key"; exit 1; }
done
socket_unit="$scratch/root/lib/systemd/system/noxsync.socket"
grep -qxF 'ListenStream=127.0.0.1:8080' "$socket_unit" || { echo "the socket unit lacks ListenStream=127.0.0.1:8080"; exit 1; }
test "$(grep -c '^ListenStream=' "$socket_unit")" = 1 || { echo "the socket unit must have one ListenStream="; exit 1; }
if command -v systemd-analyze >/dev/null && systemd-analyze --version >/dev/null 2>&1; then
  # Checks the units' keys; the binary is not in /usr/bin here, so that one
  # complaint is expected.
  systemd-analyze verify --man=no "$unit" "$socket_unit" >"$scratch/analyze" 2>&1 || true
  grep -v 'is not executable\|Cannot add dependency\|Failed to ' "$scratch/analyze" || true
  if grep -qi 'unknown\|invalid' "$scratch/analyze"; then echo "systemd-analyze found problems"; exit 1; fi
fi
test -f "$scratch/root/share/doc/noxsync/examples/noxsync.example.json"
# Each its own value, as `openssl rand -hex 32` per variable gives: config
# check refuses one token for two clients, or a token equal to the secret.
for v in JIRA_API_TOKEN SERVICENOW_PASSWORD NOXSYNC_WEBHOOK_SECRET NOXSYNC_INGEST_TOKEN NOXSYNC_READ_TOKEN \
         NOXSYNC_OPERATE_TOKEN; do export "$v=placeholder-$v-0123456789abcdef"; done
export SLACK_SOC_WEBHOOK=https://hooks.slack.com/services/T0/B0/placeholder
export NOXSYNC_WEBHOOK_PREVIOUS_SECRET=  # as the example env has it: no rotation under way
"$scratch/root/bin/noxsync" config check --config "$scratch/root/share/doc/noxsync/examples/noxsync.example.json" \
  >"$scratch/check" 2>&1 || true
grep -q "is valid" "$scratch/check" || { echo "the example configuration does not pass config check:"; cat "$scratch/check"; exit 1; }

(cd "$scratch" && cpack --config "$build/CPackConfig.cmake" -B "$scratch/pkg" >/dev/null)
deb=$(ls "$scratch"/pkg/*.deb)
contents=$(dpkg-deb -c "$deb")
grep -q './usr/bin/noxsync' <<<"$contents" || { echo "the .deb lacks /usr/bin/noxsync"; exit 1; }
grep -q './usr/lib/systemd/system/noxsync.service' <<<"$contents" \
  || { echo "the .deb lacks the unit"; exit 1; }
grep -q './usr/lib/systemd/system/noxsync.socket' <<<"$contents" \
  || { echo "the .deb lacks the socket unit"; exit 1; }
grep -q 'libssl3' <<<"$(dpkg-deb -f "$deb" Depends)" || { echo "the .deb does not depend on the shared libraries it links (libssl3)"; exit 1; }
echo "install and package: ok ($(basename "$deb"))"
