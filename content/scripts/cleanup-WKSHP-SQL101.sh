#!/bin/bash
# WKSHP-SQL101, cleanup hook: the seat's database and role are dropped from the appliance (the
# agent wipes the seat's account there after this hook). A failure is logged; the cleanup goes on.
set -euo pipefail
: "${WOD_APPLIANCE_SSH_CONFIG:?the agent manages no appliance account on this host: set appliance.ssh_key_file}"

on_appliance() {
  ssh -F "$WOD_APPLIANCE_SSH_CONFIG" appliance \
    'if [ "$(id -u)" -eq 0 ]; then exec sh -s; else exec sudo -n sh -s; fi'
}

{
  echo "seats='$WOD_USERNAME'"
  cat <<'EOF'
set -eu
cd /
for seat in $seats; do
  runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -v seat="$seat" <<'SQL'
SET client_min_messages = warning;
DROP DATABASE IF EXISTS :"seat" WITH (FORCE);
DROP ROLE IF EXISTS :"seat";
SQL
  echo "database and role $seat dropped"
done
EOF
} | on_appliance
