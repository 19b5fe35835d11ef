#!/usr/bin/env bash
# Kernel matrix part of CI (issue 7): replay the corpus in qemu guests running Debian's 6.1
# kernel, which must come out clean, and a kernel built from Debian's linux-source-6.1 with
# the 4.5 fix taken out (mutant-skip-mapped), which must be caught. Separate from .ci/run so
# it can be run (and timed) on its own: `bash .ci/vm.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."

t0=$SECONDS
stamp() { echo "== vm: $1 took $((SECONDS - $2)) s"; }

t=$SECONDS
echo "== vm: packages (qemu, busybox-static, linux-source-6.1 and the kernel build tools)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
    qemu-system-x86 busybox-static linux-source-6.1 \
    make gcc bc flex bison libelf-dev libssl-dev xz-utils patch > /dev/null
stamp packages $t

t=$SECONDS
cargo build --release -p checker
stamp "cargo build" $t

hp=target/release/hugepunch
mkdir -p target/ci
# The traces the guests replay (conformance/vm/ci-corpus.txt says which and why).
rm -rf target/ci/corpus && mkdir -p target/ci/corpus
grep -v '^#' conformance/vm/ci-corpus.txt | while read -r f; do
    cp "traces/corpus/$f" target/ci/corpus/
done
t=$SECONDS
$hp vm --list
# Downloads (debian-6.1) and builds (mutant-skip-mapped) are cached under target/kernels/.
$hp vm --kernel debian-6.1 --corpus target/ci/corpus --quiet --expect clean --json > target/ci/vm-debian-6.1.json
stamp "debian-6.1 (download + guest)" $t
t=$SECONDS
$hp vm --kernel mutant-skip-mapped --corpus target/ci/corpus --quiet --expect caught --json > target/ci/vm-mutant-skip-mapped.json
stamp "mutant-skip-mapped (kernel build + guest)" $t
python3 - <<'PY'
import json
for k in ["debian-6.1", "mutant-skip-mapped"]:
    r = json.load(open(f"target/ci/vm-{k}.json"))
    print(f"{k}: {r['kernel']}, {r['guest']['accel']}, boot {r['guest']['boot_s']:.0f} s, "
          f"replay {r['guest']['replay_s']:.0f} s; conforms to {', '.join(r['conforms_to'])}; "
          f"summary {json.dumps(r['summary'])}")
PY
stamp "vm total" $t0
