#!/usr/bin/env bash
# Start the local services the test suites use when they are not already running, with the
# commands this machine kind documents (machines/node-svc.md in the tool library).
set -uo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! port_open 1883 && command -v mosquitto >/dev/null; then
  echo "starting mosquitto"
  mosquitto -d -c /etc/mosquitto/mosquitto.conf || echo "mosquitto did not start (only the benchmarks need it)"
fi
exit 0
