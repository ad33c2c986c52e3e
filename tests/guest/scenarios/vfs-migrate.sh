# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=sh
#
# Guest side of the virtio-fs live migration test (tests/guest/migrate.py):
# while the host migrates the VM from one QEMU to the next, write, rename,
# read back and check files on the share, make and remove directories and
# run small fio verify jobs, with one file held open and flock()ed from
# the start; stop when the host makes "done" in the share.  Any error (an
# ESTALE for a file that exists, a short read, data that differs) fails.
# Kernel arguments: fastio.vfs.tag=TAG [fastio.vfs.opts=OPTS mounts with
# -o OPTS; with dax=always the share must really be mounted with DAX].
# Prints "FASTIO-MIGRATE READY" once the file is locked, then
# "FASTIO-MIGRATE iter N" after each round, and exactly one FASTIO-RESULT
# line, last.

M=/mnt
W=/mnt/work

fail() {
    echo "FASTIO-RESULT FAIL vfs-migrate: $(printf '%s' "$*" | tr '\n' ' ')"
    exit 1
}

TAG=""
OPTS=""
read -r cmdline < /proc/cmdline
for arg in ${cmdline}; do
    case "${arg}" in
    fastio.vfs.tag=*) TAG="${arg#*=}" ;;
    fastio.vfs.opts=*) OPTS="${arg#*=}" ;;
    esac
done
[ -n "${TAG}" ] || fail "no fastio.vfs.tag= on the kernel command line"

mount -t virtiofs ${OPTS:+-o "${OPTS}"} "${TAG}" "${M}" ||
    fail "mount -t virtiofs ${OPTS:+-o ${OPTS} }${TAG} ${M} failed"
case "${OPTS}" in
*dax=always*)
    grep "^${TAG} ${M} virtiofs " /proc/mounts | grep -q 'dax=always' ||
        fail "the share is not mounted with dax=always"
    ;;
esac
mkdir "${W}" || fail "mkdir ${W} failed"
echo keep > "${W}/keep" || fail "cannot write ${W}/keep"
exec 3< "${W}/keep" || fail "cannot open ${W}/keep"
flock -x -n 3 || fail "cannot flock ${W}/keep"
echo "FASTIO-MIGRATE READY"

i=0
while [ ! -e "${M}/done" ]; do
    i=$((i + 1))
    f="${W}/f$((i % 8))"
    seq "${i}" "$((i + 300))" > "${f}.tmp" || fail "writing ${f}.tmp (round ${i})"
    mv "${f}.tmp" "${f}" || fail "renaming ${f}.tmp (round ${i})"
    want=$(seq "${i}" "$((i + 300))" | sha256sum)
    got=$(sha256sum < "${f}") || fail "reading ${f} (round ${i})"
    [ "${got}" = "${want}" ] || fail "${f} differs from what round ${i} wrote"
    mkdir "${W}/d${i}" && echo "${i}" > "${W}/d${i}/x" &&
        rm "${W}/d${i}/x" && rmdir "${W}/d${i}" ||
        fail "making and removing ${W}/d${i} failed"
    if [ $((i % 4)) -eq 0 ]; then
        fio --name=verify --filename="${W}/fio.dat" --size=1M --bs=4k \
            --rw=randwrite --ioengine=psync --verify=crc32c \
            --output=/tmp/fio.out > /dev/null 2>&1 ||
            fail "fio verify in round ${i}: $(tail -n 3 /tmp/fio.out)"
    fi
    echo "FASTIO-MIGRATE iter ${i}"
    [ "${i}" -lt 100000 ] || fail "the host never made ${M}/done"
done

# The file opened and locked before the first migration: still readable
# through the same descriptor, and still locked (another open file of
# the guest cannot take the lock).
read -r line <&3 || fail "cannot read ${W}/keep through the descriptor opened first"
[ "${line}" = keep ] || fail "${W}/keep reads '${line}' through the first descriptor"
exec 4< "${W}/keep" || fail "cannot open ${W}/keep again"
if flock -x -n 4; then
    fail "the flock() taken before the migrations was lost"
fi
exec 4<&- 3<&-
echo "FASTIO-MIGRATE rounds ${i}"
umount "${M}" || fail "umount ${M} failed"
echo "FASTIO-RESULT PASS vfs-migrate"
