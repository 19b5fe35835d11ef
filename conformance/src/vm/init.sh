#!/bin/busybox sh
# /init of the guest that `hugepunch vm` boots: replays each trace of /corpus with
# `hugepunch replay --json`, one at a time in /order, so that a trace that hangs or oopses the
# kernel is known by name and the others still run. Progress and markers go to the console (ttyS0),
# results to ttyS1 (a file on the host). A replay that makes no progress (prints no line) for
# @HANG_SECS@ s is a hang: the blocked tasks are dumped (sysrq w, then t) and the next trace runs.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
say() { echo "@@hugepunch-vm $*" > /dev/ttyS0; }
data() { cat > /dev/ttyS1; }
if [ "$1" = probe ]; then say probe-ok; reboot -f; fi
# With NUMA nodes, each node's pool must hold node_pages pages (for move_pages to the other
# node); a kernel before 5.16 does not read per-node hugepages= and they are reserved here.
node_pages=@NODE_PAGES@
nodes=$(cat /sys/devices/system/node/online 2>/dev/null || echo 0)
pools=
for n in /sys/devices/system/node/node[0-9]*; do
    [ -d $n ] || continue
    f=$n/hugepages/hugepages-2048kB/nr_hugepages
    if [ $node_pages -gt 0 ] && [ $(cat $f) -lt $node_pages ]; then echo $node_pages > $f; fi
    pools=$pools${pools:+,}${n##*/}:$(cat $f)
done
# A kernel without CONFIG_NUMA rejects per-node hugepages=: one node, one node's pool.
if [ $node_pages -gt 0 ] && [ $(cat /proc/sys/vm/nr_hugepages) -lt $node_pages ]; then
    echo $node_pages > /proc/sys/vm/nr_hugepages
fi
say start uptime=$(cut -d' ' -f1 /proc/uptime) cpus=$(grep -c ^processor /proc/cpuinfo) hugepages=$(cat /proc/sys/vm/nr_hugepages) nodes=$nodes node_hugepages=$pools kernel=$(uname -r)
for n in $(cat /order); do
    t=/corpus/$n
    r=/tmp/$n
    say begin "$n"
    (hugepunch replay --json --allow-hang --progress --hold-events --attempts @ATTEMPTS@@WINDOW@ "$t" > $r.out 2> $r.err; echo $? > $r.rc) &
    # No progress (no new line from the replay: it says so as each attempt starts) for
    # @HANG_SECS@ s is a hang; a slow replay of many attempts is not.
    s=0
    seen=0
    while [ ! -e $r.rc ] && [ $s -lt @HANG_SECS@ ]; do
        sleep 1
        now=$(wc -c < $r.err 2>/dev/null || echo 0)
        # Each new line goes to the console too: the host's silence watchdog then fires only
        # when the guest itself stops (its init starved or the kernel stuck), not on a long replay.
        if [ "$now" != "$seen" ]; then
            seen=$now
            s=0
            say progress "$n" "$(tail -n 1 $r.err)"
        else
            s=$((s + 1))
        fi
    done
    if [ -e $r.rc ]; then
        { echo "@@result $n $(cat $r.rc)"; cat $r.out; echo "@@stderr $n"; cat $r.err; echo "@@end $n"; } | data
        say end "$n" rc=$(cat $r.rc)
    else
        say hang "$n" after=${s}s
        # where each of the replay's processes waits in the kernel
        for p in /proc/[0-9]*; do
            c=$(cat $p/comm 2>/dev/null)
            case "$c" in hugepunch|hp-*)
                say blocked "$c" pid=${p#/proc/} state=$(sed -n 's/^State:[[:space:]]*//p' $p/status | tr ' ' _) wchan=$(cat $p/wchan 2>/dev/null) ;;
            esac
        done
        wedged=$(grep -l '^State:[[:space:]]*D' /proc/[0-9]*/task/[0-9]*/status 2>/dev/null | while read -r f; do c=$(cat ${f%/status}/comm); case "$c" in hugepunch|hp-*) echo $c ;; esac; done)
        # what the replay last said (the attempt and step it is stuck at)
        tail -n 3 $r.err | while read -r l; do say replay "$l"; done
        echo w > /proc/sysrq-trigger
        echo t > /proc/sysrq-trigger
        sleep 2
        # all the replay said (each attempt's lines), with no exit code: it never exited
        { echo "@@result $n -1"; echo "@@stderr $n"; cat $r.err; echo "@@end $n"; } | data
        say hang-end "$n"
        # Replay threads asleep in the kernel for good hold its locks: a fault-mutex slot is
        # shared by every file, so later replays would only block on it. Hang traces come last.
        if [ -n "$wedged" ]; then
            say wedged "$n"
            break
        fi
    fi
    # After an oops (taint D, 128) the kernel died in a task that may hold locks: what it does
    # next says nothing about hole punch. The rest of the corpus is not run.
    if [ $(( $(cat /proc/sys/kernel/tainted) & 128 )) -ne 0 ]; then
        say died "$n"
        break
    fi
done
say done uptime=$(cut -d' ' -f1 /proc/uptime)
sync
reboot -f
