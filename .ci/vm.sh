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
# One guest run. Exit 4 is a guest that froze (no console output, no answer to sysrq: the
# emulator, not the kernel under test, as far as anyone has seen; README, "CI's guests") with
# nothing else wrong: it is said here in full and run once more. Any verdict (a violation, an
# oops, a hang, a buggy variant conformed to) or harness error fails at once.
guest() {
    local kernel=$1 expect=$2 rc=0
    $hp vm --kernel "$kernel" --corpus target/ci/corpus --quiet --expect "$expect" --json \
        > "target/ci/vm-$kernel.json" || rc=$?
    if [ $rc -eq 4 ]; then
        echo "== vm: $kernel: THE GUEST FROZE; its report:"
        cat "target/ci/vm-$kernel.json"
        echo "== vm: $kernel: running it once more"
        rc=0
        $hp vm --kernel "$kernel" --corpus target/ci/corpus --quiet --expect "$expect" --json \
            > "target/ci/vm-$kernel.json" || rc=$?
    fi
    if [ $rc -ne 0 ]; then
        echo "== vm: $kernel: failed (exit $rc); its report:"
        cat "target/ci/vm-$kernel.json"
        exit 1
    fi
}

t=$SECONDS
$hp vm --list
# Downloads (debian-6.1) and builds (mutant-skip-mapped) are cached under target/kernels/.
guest debian-6.1 clean
stamp "debian-6.1 (download + guest)" $t
t=$SECONDS
guest mutant-skip-mapped caught
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
