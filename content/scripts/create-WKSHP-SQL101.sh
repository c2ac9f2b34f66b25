#!/bin/bash
# WKSHP-SQL101, create hook (docs/reference/hooks.md): an empty PostgreSQL database of the seat's
# own on the appliance, owned by a role named like the seat. The agent has already given the seat
# its account there (appliance.ssh_key_file), so the seat's psql logs in by peer authentication:
# no password anywhere.
set -euo pipefail
: "${WOD_APPLIANCE_SSH_CONFIG:?the agent manages no appliance account on this host: set appliance.ssh_key_file}"

# Runs the script read on standard input as root on the appliance.
on_appliance() {
  ssh -F "$WOD_APPLIANCE_SSH_CONFIG" appliance \
    'if [ "$(id -u)" -eq 0 ]; then exec sh -s; else exec sudo -n sh -s; fi'
}

{
  echo "seat=$WOD_USERNAME"
  cat <<'EOF'
set -eu
cd /
runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -v seat="$seat" <<'SQL'
SET client_min_messages = warning;
DROP DATABASE IF EXISTS :"seat" WITH (FORCE);
DROP ROLE IF EXISTS :"seat";
CREATE ROLE :"seat" LOGIN;
CREATE DATABASE :"seat" OWNER :"seat";
REVOKE ALL ON DATABASE :"seat" FROM PUBLIC;
SQL
echo "database $seat ready, owned by the role $seat"
EOF
} | on_appliance
