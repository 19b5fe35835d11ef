# Sourced by test.sh: raise the default-size huge page pool for the tests and put it back as it
# was found when the shell exits. The same steps as the replayer's janitor
# (conformance/src/sys/pool_restore.rs): wait until the pages in use are back to what was found,
# write nr_hugepages back, release the free surplus pages the kernel can keep when it is lowered
# while pages are being freed (README, "Surplus pages the kernel keeps"), and compare every
# counter with what was found.

NR=/proc/sys/vm/nr_hugepages

# nr_hugepages nr_overcommit_hugepages HugePages_Total Free Rsvd Surp
pool_counts() {
    echo "$(cat $NR) $(cat /proc/sys/vm/nr_overcommit_hugepages)" \
        "$(awk '/^HugePages_(Total|Free|Rsvd|Surp):/ {printf "%s ", $2}' /proc/meminfo)"
}

pool_show() {
    set -- $1
    echo "nr_hugepages $1, nr_overcommit_hugepages $2, HugePages_Total $3, Free $4, Rsvd $5, Surp $6"
}

# Makes at least $1 huge pages free and unreserved; the pool is put back on exit.
pool_raise() {
    local need=$1
    POOL_FOUND=$(pool_counts)
    set -- $POOL_FOUND
    local available=$(($4 - $5))
    echo "found: $(pool_show "$POOL_FOUND")"
    trap pool_restore EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    if [ "$available" -lt "$need" ]; then
        echo $(($1 + need - available)) > $NR
    fi
    set -- $(pool_counts)
    echo "raised: $(pool_show "$*")"
    if [ $(($4 - $5)) -lt "$need" ]; then
        echo "only $(($4 - $5)) free huge pages after raising nr_hugepages to $1, $need needed:" \
            "not enough memory for the replay tests" >&2
        return 1
    fi
}

pool_restore() {
    local rc=$? i kept
    trap - EXIT INT TERM
    set -- $POOL_FOUND
    local f_nr=$1 f_oc=$2 f_total=$3 f_free=$4 f_rsvd=$5 f_surp=$6
    # The tests' pages come back once their processes are gone (at most 20 s).
    for i in $(seq 200); do
        set -- $(pool_counts)
        [ $(($3 - $4)) -le $((f_total - f_free)) ] && [ "$5" -le "$f_rsvd" ] && break
        sleep 0.1
    done
    [ "$(cat /proc/sys/vm/nr_overcommit_hugepages)" = "$f_oc" ] ||
        echo "$f_oc" > /proc/sys/vm/nr_overcommit_hugepages
    [ "$(cat $NR)" = "$f_nr" ] || echo "$f_nr" > $NR
    set -- $(pool_counts)
    kept=$(($6 - f_surp < $4 - f_free ? $6 - f_surp : $4 - f_free))
    if [ "$kept" -gt 0 ]; then
        echo "the kernel kept $kept free surplus huge pages; releasing them"
        echo $((f_nr + kept)) > $NR
        echo "$f_nr" > $NR
    fi
    local now
    now=$(pool_counts)
    if [ "$now" = "$POOL_FOUND" ]; then
        echo "huge page pool put back: $(pool_show "$now")"
    else
        echo "huge page pool NOT as found: found $(pool_show "$POOL_FOUND"); now $(pool_show "$now")" >&2
        [ "$rc" -ne 0 ] || rc=1
    fi
    exit "$rc"
}
