#!/bin/bash
# Setup hook of WKSHP-Appliance101 (wod backend setup-appliance): leaves proof that it ran.
set -eu
echo "setup of WKSHP-Appliance101 for seat ${WOD_SEAT:-?}" >> /var/lib/wod/appliance-setup.log
