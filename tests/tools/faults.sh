#!/usr/bin/env bash
# The fault campaign of issue 14; see the README's "Faults" section.
#
#   tests/tools/faults.sh [N] [--only kill,postgres,relay,apiserver] [--kills K] [--relay-down SECONDS]
#
# For each fault, on a fresh namespace, PostgreSQL database and SMTP sink: 1 Account, 50
# Organizations and N Memberships (default 1000, half with logins) reconciled by two operator
# replicas with leader election, the fault injected mid-convergence, then the figures: time to
# recover, objects not Ready, invitations and mails delivered per mail and per recipient, dead
# letters, duplicate rows. It restarts the machine's PostgreSQL (tests/tools/postgres.sh
# --restart), so run it alone. Prints a table; asserts nothing. Needs what tests/bench/run.sh needs.
set -euo pipefail
exec "$(dirname "$0")/../bench/run.sh" --faults "$@"
