# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=sh
#
# Guest side of the "nothing lost" test (tests/guest/crash.py): writes
# numbered 4 KiB records to /dev/vda in batches of 8, each batch ended by
# an fsync of the device (a virtio-blk flush), and prints
# "FASTIO-FLUSHED <n>" once records 0..n are flushed.  It runs until the
# host kills QEMU (or until the disk is full).

BS=4096
BATCH=8
rec=0

i=0
while [ ! -b /dev/vda ]; do
    i=$((i + 1))
    if [ "${i}" -gt 50 ]; then
        echo "FASTIO-RESULT FAIL blk-records: no /dev/vda"
        exit 1
    fi
    sleep 0.1
done
max=$(($(cat /sys/block/vda/size) * 512 / BS))

# record N: "FASTIO-REC <N>" and its number repeated, padded to 4 KiB
record() {
    line="FASTIO-REC $1"
    printf '%s\n' "${line}"
    j=0
    while [ "${j}" -lt 60 ]; do
        printf '%08d' "$1"
        j=$((j + 1))
    done
}

while [ $((rec + BATCH)) -le "${max}" ]; do
    : > /tmp/batch
    n=0
    while [ "${n}" -lt "${BATCH}" ]; do
        record $((rec + n)) > /tmp/rec
        dd if=/tmp/rec of=/tmp/recpad bs="${BS}" count=1 conv=sync 2>/dev/null
        cat /tmp/recpad >> /tmp/batch
        n=$((n + 1))
    done
    dd if=/tmp/batch of=/dev/vda bs="${BS}" seek="${rec}" conv=notrunc,fsync \
        2>/dev/null || { echo "FASTIO-RESULT FAIL blk-records: write failed"; exit 1; }
    rec=$((rec + BATCH))
    echo "FASTIO-FLUSHED $((rec - 1))"
done
echo "FASTIO-RESULT PASS blk-records"
