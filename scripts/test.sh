#!/usr/bin/env bash
# The README's test command, and what CI runs (.ci/run): sets up everything the tests need
# (scripts/setup-test-env.sh: pnpm, dependencies, redis-server, etcd, etcdctl), then runs the
# whole suite: `pnpm test` (build, typecheck, lint, every test against real servers, pack check).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-test-env.sh
printf '\n== pnpm test\n'
exec pnpm test
