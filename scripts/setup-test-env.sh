#!/usr/bin/env bash
# The one installer: makes a Debian/Ubuntu machine with Node.js >= 20 ready to run the demo and
# the tests. Idempotent: whatever is already there is left alone. Used by scripts/test.sh (the
# README's test command, also run by CI through .ci/run) and by scripts/demo.sh.
#
#   bash scripts/setup-test-env.sh               pnpm, the dependencies, and the servers the tests start
#   bash scripts/setup-test-env.sh --no-servers  pnpm and the dependencies only (the demo needs no server)
#
# 1. pnpm: the version package.json pins (`packageManager`), installed with `npm install -g` when
#    pnpm is missing or older than 9.7 (from 9.7 on, pnpm runs the pinned version by itself).
# 2. `pnpm install --frozen-lockfile`.
# 3. The programs the tests run on this machine: redis-server and redis-cli, etcd and etcdctl,
#    PostgreSQL's postgres and initdb (Debian keeps them in /usr/lib/postgresql/<version>/bin,
#    where the testkit finds them; as root it runs them as the `postgres` user the package
#    creates), pgbouncer (the @dlock/postgres tests put it in front of PostgreSQL), openssl.
#    Missing ones are installed with apt-get (through sudo unless running as root).
#
# Docker: @dlock/testkit starts the test servers in containers (testcontainers) when a container
# engine answers, and local processes otherwise (DLOCK_TEST_SERVERS=auto|local|docker, see
# packages/testkit/src/servers/mode.ts). This script asks testcontainers the same question and
# says which it will be. Docker does not make the binaries optional, though: some tests always
# run them locally (the harness tests of local processes, a Redis Cluster of local nodes, the
# interop tests against `etcdctl lock`, TLS certificates made with openssl). So they are installed
# either way; only where apt-get cannot be used and an engine answers does a missing binary
# become a warning (those tests will fail) instead of an error.
set -euo pipefail
cd "$(dirname "$0")/.."

servers=1
for arg in "$@"; do
  case "$arg" in
    --no-servers) servers=0 ;;
    *) echo "usage: $0 [--no-servers]" >&2; exit 2 ;;
  esac
done

say() { printf '\n== %s\n' "$*"; }
die() { printf '\nsetup failed: %s\n' "$*" >&2; exit 1; }

# Root runs commands as they are; anyone else through sudo (asked only when something is missing).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    die "'$*' needs root: run this script as root, or install sudo"
  fi
}

# ---- Node.js --------------------------------------------------------------------------------
command -v node >/dev/null || die "Node.js is not installed: install Node.js 20 or later first (https://nodejs.org)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || die "Node.js $(node --version) is too old: dlock needs Node.js 20 or later"

# ---- pnpm -----------------------------------------------------------------------------------
pnpm_version="$(node -p "require('./package.json').packageManager.split('@')[1]")"
pnpm_ok() {
  command -v pnpm >/dev/null || return 1
  # 9.7 and later honour `packageManager` and run the pinned version themselves.
  node -e 'const [a, b] = process.argv[1].split(".").map(Number); process.exit(a > 9 || (a === 9 && b >= 7) ? 0 : 1)' \
    "$(pnpm --version 2>/dev/null || echo 0.0)"
}
if ! pnpm_ok; then
  say "installing pnpm ${pnpm_version} (npm install -g)"
  if [ -w "$(npm root -g)" ]; then
    npm install -g --no-audit --no-fund "pnpm@${pnpm_version}"
  else
    as_root npm install -g --no-audit --no-fund "pnpm@${pnpm_version}"
  fi
  hash -r
  command -v pnpm >/dev/null || die "pnpm was installed but is not on PATH (npm's global bin dir: $(npm prefix -g)/bin)"
fi

# ---- dependencies ---------------------------------------------------------------------------
say "pnpm install --frozen-lockfile"
pnpm install --frozen-lockfile

if [ "$servers" -eq 0 ]; then
  exit 0
fi

# ---- where the test servers run ---------------------------------------------------------------
# The testkit's own question (mode.ts): does testcontainers find a container engine?
mode="${DLOCK_TEST_SERVERS:-auto}"
engine=no
if [ "$mode" != "local" ]; then
  if (cd packages/testkit && timeout 60 node --input-type=module -e \
    "const { getContainerRuntimeClient } = await import('testcontainers'); await getContainerRuntimeClient();" \
    >/dev/null 2>&1); then
    engine=yes
  fi
fi
if [ "$engine" = yes ]; then
  say "test servers: Docker containers through testcontainers (a container engine answers; DLOCK_TEST_SERVERS=${mode})"
else
  say "test servers: local processes (no container engine answers, or DLOCK_TEST_SERVERS=local)"
  [ "$mode" != "docker" ] || die "DLOCK_TEST_SERVERS=docker but no container engine answers: start Docker, or unset DLOCK_TEST_SERVERS"
fi

# ---- the binaries the tests run on this machine ------------------------------------------------
# program:apt package candidates (the first one apt knows is used; older Ubuntu has `etcd`)
wanted=(
  "redis-server:redis-server"
  "redis-cli:redis-tools"
  "etcd:etcd-server etcd"
  "etcdctl:etcd-client etcd"
  "postgres:postgresql"
  "initdb:postgresql"
  "pgbouncer:pgbouncer"
  "openssl:openssl"
)
# A program on PATH, or (PostgreSQL's, which Debian does not put on PATH) in the newest
# /usr/lib/postgresql/<version>/bin, or (pgbouncer, off a non-root PATH) in /usr/sbin. Prints its path.
find_program() {
  if command -v "$1" 2>/dev/null; then return 0; fi
  if [ -x "/usr/sbin/$1" ]; then echo "/usr/sbin/$1"; return 0; fi
  local found
  found="$(ls -d /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -n 1)"
  [ -n "$found" ] && [ -x "$found" ] && echo "$found"
}
missing_programs=()
missing_candidates=()
for entry in "${wanted[@]}"; do
  program="${entry%%:*}"
  if ! find_program "$program" >/dev/null; then
    missing_programs+=("$program")
    missing_candidates+=("${entry#*:}")
  fi
done

if [ "${#missing_programs[@]}" -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    message="missing ${missing_programs[*]}, and there is no apt-get here: install them with your package manager"
    if [ "$engine" = yes ]; then
      echo "warning: $message; the tests that run them locally will fail" >&2
    else
      die "$message (or start Docker: most test servers can then run in containers)"
    fi
  else
    say "installing ${missing_programs[*]} (apt-get)"
    as_root apt-get update -q
    packages=()
    for candidates in "${missing_candidates[@]}"; do
      chosen=""
      for candidate in $candidates; do
        if apt-cache show "$candidate" >/dev/null 2>&1; then chosen="$candidate"; break; fi
      done
      [ -n "$chosen" ] || die "apt knows none of: $candidates"
      case " ${packages[*]-} " in *" $chosen "*) ;; *) packages+=("$chosen") ;; esac
    done
    # A packaged service that starts on install is left alone: the tests use their own free ports.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}"
    hash -r
  fi
fi

say "versions"
node --version
echo "pnpm $(pnpm --version)"
# sed reads to the end: no SIGPIPE under pipefail
for command in "redis-server --version" "etcd --version" "etcdctl version" "postgres --version" "pgbouncer --version"; do
  program="${command%% *}"
  if path="$(find_program "$program")"; then
    "$path" ${command#* } 2>&1 | sed -n 1p
  else
    echo "$program: not installed"
  fi
done
