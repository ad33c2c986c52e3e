# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=sh
#
# The virtio-blk check shared by the blk-* scenarios (busybox sh, sourced).
# On the disk /dev/vda (at least 32 MiB): fio writes a 16 MiB region with
# verification (libaio, O_DIRECT, queue depth 16, 4k-64k blocks) and reads
# it back; the job ends with an fsync, which must reach the device as a
# flush; then 8 MiB in the middle of the region are discarded.  With
# fastio.discard_zeroes=1 on the kernel command line (the host knows that
# its backend punches holes) the discarded range must read back as zeroes;
# the data around it must be unchanged either way.
# Prints exactly one FASTIO-RESULT line, last.

BLK_NAME=""
BLK_DEV=""
BLK_SYS=""

blk_fail() {
    echo "FASTIO-RESULT FAIL ${BLK_NAME}: $*"
    exit 1
}

# blk_stat N: field N of the device's stat file (12 = discards, 16 = flushes).
blk_stat() {
    awk -v n="$1" '{ print $n }' "${BLK_SYS}/stat"
}

# blk_md5 OFFSET_MIB LENGTH_MIB: md5 of that range of the device (O_DIRECT).
blk_md5() {
    dd if="${BLK_DEV}" iflag=direct bs=1M skip="$1" count="$2" 2>/dev/null |
        md5sum | cut -d' ' -f1
}

zero_md5() {
    dd if=/dev/zero bs=1M count="$1" 2>/dev/null | md5sum | cut -d' ' -f1
}

cmdline_flag() {
    grep -q "\(^\| \)$1\( \|$\)" /proc/cmdline
}

# blk_test NAME [DEVICE]
blk_test() {
    BLK_NAME="$1"
    BLK_DEV="${2:-/dev/vda}"
    BLK_SYS="/sys/block/${BLK_DEV#/dev/}"
    i=0
    while [ ! -b "${BLK_DEV}" ]; do
        i=$((i + 1))
        [ "${i}" -le 50 ] || blk_fail "no ${BLK_DEV} after 5 s"
        sleep 0.1
    done
    size_mib=$(($(cat "${BLK_SYS}/size") / 2048))
    [ "${size_mib}" -ge 32 ] || blk_fail "${BLK_DEV} has ${size_mib} MiB, want 32"
    set -- "${BLK_SYS}"/mq/*
    echo "blk: ${BLK_DEV} ${size_mib} MiB, cache '$(cat "${BLK_SYS}/queue/write_cache")'," \
        "discard_max_bytes $(cat "${BLK_SYS}/queue/discard_max_bytes"), $# queue(s)"

    # 1. Write a pattern, read it back and verify it; fsync at the end.
    flushes=$(blk_stat 16)
    fio --name=write-verify --filename="${BLK_DEV}" --ioengine=libaio \
        --direct=1 --iodepth=16 --rw=randwrite --bssplit=4k/50:16k/25:64k/25 \
        --offset=0 --size=16M --verify=crc32c --do_verify=1 --verify_fatal=1 \
        --end_fsync=1 --eta=never ||
        blk_fail "fio write+verify failed (exit $?)"

    # 2. The fsync must have reached the device as a flush request.
    if [ "$(cat "${BLK_SYS}/queue/write_cache")" = "write back" ]; then
        [ "$(blk_stat 16)" -gt "${flushes}" ] ||
            blk_fail "fsync sent no flush to the device (flush count ${flushes})"
    else
        echo "blk: write-through cache, no flush expected"
    fi

    # 3. Discard 4-12 MiB; the data around it must stay.
    [ "$(cat "${BLK_SYS}/queue/discard_max_bytes")" -gt 0 ] ||
        blk_fail "the device offers no discard"
    zero8=$(zero_md5 8)
    head_md5=$(blk_md5 0 4)
    tail_md5=$(blk_md5 12 4)
    [ "$(blk_md5 4 8)" != "${zero8}" ] ||
        blk_fail "the written range reads as zeroes before the discard"
    discards=$(blk_stat 12)
    blkdiscard -o $((4 << 20)) -l $((8 << 20)) "${BLK_DEV}" ||
        blk_fail "blkdiscard failed (exit $?)"
    [ "$(blk_stat 12)" -gt "${discards}" ] ||
        blk_fail "blkdiscard sent no discard request to the device"
    [ "$(blk_md5 0 4)" = "${head_md5}" ] ||
        blk_fail "the discard changed data before the discarded range"
    [ "$(blk_md5 12 4)" = "${tail_md5}" ] ||
        blk_fail "the discard changed data after the discarded range"
    if cmdline_flag fastio.discard_zeroes=1; then
        [ "$(blk_md5 4 8)" = "${zero8}" ] ||
            blk_fail "the discarded range does not read back as zeroes"
        echo "blk: the discarded range reads back as zeroes"
    else
        echo "blk: the backend does not promise zeroes after a discard; not checked"
    fi

    echo "blk: flushes $(blk_stat 16), discards $(blk_stat 12)"
    echo "FASTIO-RESULT PASS ${BLK_NAME}"
}
