#!/usr/bin/env bash
# Installs Debian's Chromium for checker/tests/explorer.rs (headless Explorer test).
# Idempotent: does nothing when /usr/bin/chromium is already there. Run as root.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q chromium
test -x /usr/bin/chromium
/usr/bin/chromium --version
