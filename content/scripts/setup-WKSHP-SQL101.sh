#!/bin/bash
# WKSHP-SQL101, setup hook of `wod backend setup-appliance WKSHP-SQL101`: PostgreSQL from the
# appliance's own Debian sources, running and enabled at boot. Debian's default pg_hba.conf
# (local connections by peer authentication) is what the seats need: each seat's account logs
# in to its own database as the role of the same name. Can run again: it only installs once.
set -euo pipefail
: "${WOD_APPLIANCE_SSH_CONFIG:?the agent reaches no appliance from this host: set appliance.ssh_key_file}"

on_appliance() {
  ssh -F "$WOD_APPLIANCE_SSH_CONFIG" appliance \
    'if [ "$(id -u)" -eq 0 ]; then exec sh -s; else exec sudo -n sh -s; fi'
}

on_appliance <<'EOF'
set -eu
export DEBIAN_FRONTEND=noninteractive
if ! dpkg-query -W -f '${Status}' postgresql 2>/dev/null | grep -q 'ok installed'; then
  apt-get update -qq </dev/null
  # only errors reach the log: dpkg's progress would fill it
  apt-get install -y -qq --no-install-recommends postgresql </dev/null >/dev/null
  echo "postgresql installed"
fi
systemctl enable --now postgresql </dev/null
ready=no
for _ in $(seq 1 120); do
  if runuser -u postgres -- pg_isready -q </dev/null; then ready=yes; break; fi
  sleep 1
done
if [ "$ready" != yes ]; then echo "PostgreSQL does not answer on $(hostname)" >&2; exit 1; fi
runuser -u postgres -- psql -X -q -At -c 'SELECT version();' </dev/null
EOF
