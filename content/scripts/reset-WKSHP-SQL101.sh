#!/bin/bash
# WKSHP-SQL101, reset hook: the databases and roles of the seats WOD_SEAT_MIN..WOD_SEAT_MAX are
# dropped from the appliance (the agent then wipes each seat's account there).
set -euo pipefail
: "${WOD_APPLIANCE_SSH_CONFIG:?the agent manages no appliance account on this host: set appliance.ssh_key_file}"

on_appliance() {
  ssh -F "$WOD_APPLIANCE_SSH_CONFIG" appliance \
    'if [ "$(id -u)" -eq 0 ]; then exec sh -s; else exec sudo -n sh -s; fi'
}

seats=""
for n in $(seq "$WOD_SEAT_MIN" "$WOD_SEAT_MAX"); do seats="$seats student$n"; done
{
  echo "seats='$seats'"
  cat <<'EOF'
set -eu
cd /
for seat in $seats; do
  runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -v seat="$seat" <<'SQL'
SET client_min_messages = warning;
DROP DATABASE IF EXISTS :"seat" WITH (FORCE);
DROP ROLE IF EXISTS :"seat";
SQL
done
echo "databases and roles of$seats dropped"
EOF
} | on_appliance
