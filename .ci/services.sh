#!/usr/bin/env bash
# Start the local services the test suites use when they are not already running, with the
# commands this machine kind documents (machines/node-svc.md in the tool library).
set -uo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! port_open 1883 && command -v mosquitto >/dev/null; then
  echo "starting mosquitto"
  mosquitto -d -c /etc/mosquitto/mosquitto.conf || echo "mosquitto did not start (only the benchmarks need it)"
fi
# The dashboard's browser tests (examples/dashboard) drive Debian's chromium through playwright-core;
# they never download a browser. Install the distribution package when it is missing.
if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian's chromium for the browser tests (apt-get)"
  as_root=()
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then as_root=(sudo); fi
  if "${as_root[@]}" apt-get update -qq && "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; then
    echo "chromium installed: $(/usr/bin/chromium --version 2>/dev/null | tail -n 1)"
  else
    echo "chromium could not be installed: the examples/dashboard browser tests will fail"
  fi
fi
exit 0
