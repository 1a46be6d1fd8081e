#!/usr/bin/env bash
# Provisions what the test suites need, so that `npm test` (its `pretest` hook runs this) passes
# on a fresh machine of this kind with nothing installed by hand. Idempotent and quick when all is
# there already. It starts services with the commands this machine kind documents
# (machines/node-svc.md in the tool library) and installs only Debian's packages.
# Exit 1, printing the one command to run, when something the tests need cannot be had.
set -uo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then as_root=(sudo -n); else as_root=(none); fi
fi
missing=()

# Redis: the @lifeline/redis tests use a real Redis on 127.0.0.1:6379.
if ! port_open 6379; then
  if command -v redis-server >/dev/null; then
    echo "provision: starting redis-server on 127.0.0.1:6379"
    mkdir -p /tmp/lifeline-redis
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /tmp/lifeline-redis --logfile /tmp/lifeline-redis/redis.log || true
    for _ in $(seq 1 50); do port_open 6379 && break; sleep 0.1; done
  fi
  port_open 6379 || missing+=("redis: apt-get install -y redis-server && redis-server --daemonize yes --bind 127.0.0.1 --save ''")
fi

# Mosquitto: only the benchmarks' MQTT rows need it; never fatal.
if ! port_open 1883 && command -v mosquitto >/dev/null; then
  echo "provision: starting mosquitto (benchmarks only)"
  mosquitto -d -c /etc/mosquitto/mosquitto.conf 2>/dev/null || echo "provision: mosquitto did not start (only the benchmarks need it)"
fi

# Chromium: the browser tests drive Debian's chromium through playwright-core; no browser is
# ever downloaded.
if [ ! -x /usr/bin/chromium ]; then
  if [ "${as_root[0]:-}" = none ]; then
    missing+=("chromium: sudo apt-get update && sudo apt-get install -y chromium")
  else
    echo "provision: installing Debian's chromium for the browser tests (apt-get, about a minute)"
    if "${as_root[@]}" apt-get update -qq && "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; then
      echo "provision: chromium installed: $(/usr/bin/chromium --version 2>/dev/null | tail -n 1)"
    else
      missing+=("chromium: apt-get update && apt-get install -y chromium")
    fi
  fi
fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "provision: the tests need what this machine lacks; run, then npm test again:" >&2
  for m in "${missing[@]}"; do echo "  $m" >&2; done
  exit 1
fi
exit 0
