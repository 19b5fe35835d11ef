#!/usr/bin/env bash
# The test command (README, "The two commands"): sets up what the tests need on this machine,
# runs every test, and puts the huge page pool back as it found it. Run as root on Debian 12 or
# later with the Rust toolchain; nothing else needs to be set up first.
#
# What it changes on the machine:
# - installs Debian's chromium with apt-get, once, if /usr/bin/chromium is missing (for the
#   Explorer's headless-browser test; about 480 MB on disk);
# - raises /proc/sys/vm/nr_hugepages while the tests run, so that 1100 2 MiB huge pages (2.2 GiB)
#   are free for the replays, and puts the pool back on exit, also on Ctrl-C or SIGTERM (not on
#   SIGKILL of this script: then nr_hugepages stays raised).
# - the kernel matrix part (.ci/vm.sh): installs qemu-system-x86, busybox-static,
#   linux-source-6.1 and the kernel build tools with apt-get, downloads Debian's 6.1 kernel
#   package and builds a mutant kernel, all cached under target/kernels/, and runs two qemu
#   guests (killed when done; nothing is left running).
# Extra arguments go to `cargo test` (e.g. `./test.sh -p spec`); with arguments the kernel
# matrix part does not run (say `./test.sh` with none for every test).
set -euo pipefail
cd "$(dirname "$0")"

section() { printf '== %s (%s)\n' "$1" "$(date -u +%T)"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: the tests need root (huge page pool, real-time replay actors, pagemap)" >&2
    exit 2
fi

section "Chromium for the Explorer's headless-browser test"
bash .ci/browser.sh

section "huge page pool: the corpus replay needs 1100 free 2 MiB pages"
. .ci/hugepages.sh
pool_raise 1100

section "userfaultfd"
ls -l /dev/userfaultfd || echo "no /dev/userfaultfd: the replay tests will say what is missing"

section "cargo test --release --workspace $*"
cargo test --release --workspace "$@"

if [ $# -eq 0 ]; then
    section "kernel matrix: the corpus in qemu guests (Debian 6.1 must be clean, a mutant caught)"
    bash .ci/vm.sh
fi
section "done"
