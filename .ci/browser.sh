#!/usr/bin/env bash
# Installs Debian's Chromium for checker/tests/explorer.rs (headless Explorer test).
# Idempotent: does nothing when /usr/bin/chromium is already there. Run as root.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# Wait for, rather than fail on, another apt-get running on the machine.
lock=(-o DPkg::Lock::Timeout=600)
apt-get "${lock[@]}" update -q
apt-get "${lock[@]}" install -y -q chromium
test -x /usr/bin/chromium
/usr/bin/chromium --version
