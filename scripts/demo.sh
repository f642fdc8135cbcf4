#!/usr/bin/env bash
# The README's first command: installs pnpm if needed and the dependencies
# (scripts/setup-test-env.sh --no-servers), then runs the demo on the embedded memory backend.
# No server, no root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-test-env.sh --no-servers
printf '\n== pnpm demo\n'
exec pnpm demo
