# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=sh
#
# Guest side of the vfs scenario: the host gives a virtio-fs-pci device
# (our in-process FUSE server) with security-model=mapped-xattr, and puts
# in the share a folder host/ (tests/guest/vfs-host.sh writes it):
#   MANIFEST      sha256sum lines of the other files of host/; its own
#                 sha256 is fastio.vfs.manifest= on the kernel command line
#   rand-*        random files of awkward sizes
#   pattern.awk   the generator of the files the guest writes
#   COMPOSE       "dd BS COUNT SKIP SEEK" and "truncate SIZE" operations
#                 that build guest/compose from host/rand-src
#   tree.tar.gz   a tree (with its SHA256SUMS) to untar and remove
# Kernel arguments: fastio.vfs.tag=TAG fastio.vfs.manifest=SHA256
# fastio.vfs.seed=N [fastio.vfs.fio=0 skips the fio jobs]
# [fastio.vfs.opts=OPTS mounts with -o OPTS; with dax=always the share must
# really be mounted with DAX and the fio jobs add an mmap job]
# [fastio.vfs.queues=N: the device has N request queues; every one must
# carry requests (one workload pinned to each CPU; needs Linux 6.11+)].
#
# Everything the guest leaves in guest/ is checked again by the host after
# the power-off (vfs-host.sh): keep the two in step.
# Prints exactly one FASTIO-RESULT line, last.

M=/mnt
H=/mnt/host
G=/mnt/guest
# The tarball's files carry this mtime (vfs-host.sh: VFS_TAR_MTIME).
TAR_MTIME=1700000000

# fail REASON: the one result line (on one line), and stop.
fail() {
    echo "FASTIO-RESULT FAIL vfs: $(printf '%s' "$*" | tr '\n' ' ')"
    exit 1
}

say() {
    echo "vfs: $*"
}

# param NAME [DEFAULT]: the value of fastio.vfs.NAME= on the command line.
param() {
    read -r cmdline < /proc/cmdline
    for arg in ${cmdline}; do
        case "${arg}" in
        "fastio.vfs.$1="*) echo "${arg#*=}"; return 0 ;;
        esac
    done
    echo "${2:-}"
}

sum() {
    sha256sum < "$1" | cut -d' ' -f1
}

drop_caches() {
    sync
    echo 3 > /proc/sys/vm/drop_caches
}

# expect WHAT GOT WANT
expect() {
    [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
}

TAG=$(param tag)
MANIFEST_SUM=$(param manifest)
SEED=$(param seed)
OPTS=$(param opts)
QUEUES=$(param queues 1)
if [ -z "${TAG}" ] || [ -z "${MANIFEST_SUM}" ] || [ -z "${SEED}" ]; then
    fail "fastio.vfs.tag/manifest/seed missing from the kernel command line"
fi

# vfs_mount: mount the share (with fastio.vfs.opts), and check that DAX
# is on when it was asked for.
vfs_mount() {
    mount -t virtiofs ${OPTS:+-o "${OPTS}"} "${TAG}" "${M}" ||
        fail "mount -t virtiofs ${OPTS:+-o ${OPTS} }${TAG} ${M} failed"
    grep -q "^${TAG} ${M} virtiofs " /proc/mounts || fail "no virtiofs mount in /proc/mounts"
    case ",${OPTS}," in
    *,dax=always,*)
        grep "^${TAG} ${M} virtiofs " /proc/mounts | grep -q 'dax=always' ||
            fail "mounted without dax=always: $(grep " ${M} " /proc/mounts)" ;;
    esac
}

# 1. Mount.
mkdir -p "${M}"
vfs_mount
say "mounted: $(grep " ${M} " /proc/mounts)"
[ -d "${H}" ] || fail "the share has no host/ folder"
[ ! -e "${G}" ] || fail "guest/ exists before the guest made it"

# 2. The host's files read back identical.
expect "sha256 of host/MANIFEST" "$(sum "${H}/MANIFEST")" "${MANIFEST_SUM}"
(cd "${H}" && sha256sum -c -s MANIFEST) || {
    (cd "${H}" && sha256sum -c MANIFEST) 2>&1 | grep -v ': OK$'
    fail "host files differ from host/MANIFEST"
}
listed=$(wc -l < "${H}/MANIFEST")
expect "files in host/" "$(find "${H}" -type f | wc -l)" $((listed + 1))
drop_caches
(cd "${H}" && sha256sum -c -s MANIFEST) ||
    fail "host files differ from host/MANIFEST after drop_caches"
say "${listed} host files match MANIFEST"

# 3. Files the guest writes: the host knows their content.
mkdir "${G}" || fail "mkdir ${G} failed"
i=0
for lines in 0 1 3000 30000; do
    awk -v seed="${SEED}" -v file="${i}" -v lines="${lines}" \
        -f "${H}/pattern.awk" > "/tmp/pat-${i}" || fail "pattern.awk failed"
    i=$((i + 1))
done
cp /tmp/pat-0 /tmp/pat-1 /tmp/pat-2 "${G}/" || fail "cp to the share failed"
dd if=/tmp/pat-3 of="${G}/pat-3" bs=1M 2>/dev/null || fail "dd bs=1M to the share failed"
: > "${G}/compose"
while read -r op a b c d; do
    case "${op}" in
    dd) dd if="${H}/rand-src" of="${G}/compose" bs="${a}" count="${b}" \
        skip="${c}" seek="${d}" conv=notrunc 2>/dev/null ||
        fail "compose: dd bs=${a} count=${b} skip=${c} seek=${d} failed" ;;
    truncate) truncate -s "${a}" "${G}/compose" || fail "compose: truncate -s ${a} failed" ;;
    *) fail "compose: unknown operation ${op}" ;;
    esac
done < "${H}/COMPOSE"
cp "${G}/compose" /tmp/compose || fail "reading compose back failed"
for i in $(seq 1 50); do
    echo "append ${i}" >> "${G}/append" || fail "append ${i} failed"
done
seq 1 50 | sed 's/^/append /' > /tmp/append
drop_caches
for f in pat-0 pat-1 pat-2 pat-3 compose append; do
    expect "sha256 of guest/${f} after drop_caches" "$(sum "${G}/${f}")" "$(sum "/tmp/${f}")"
done
expect "size of guest/pat-3" "$(stat -c %s "${G}/pat-3")" "$(stat -c %s /tmp/pat-3)"
say "guest files: compose $(stat -c %s "${G}/compose") bytes $(sum "${G}/compose")"

# 4. A tree: mkdir -p, many small files, renames, rm -rf.
T="${G}/tree"
mkdir -p "${T}/a/b/c/d" || fail "mkdir -p failed"
for d in a a/b a/b/c a/b/c/d; do
    for i in $(seq 1 40); do
        echo "${d} ${i}" > "${T}/${d}/f${i}" || fail "create ${d}/f${i} failed"
    done
done
expect "files in tree/" "$(find "${T}" -type f | wc -l)" 160
mv "${T}/a" "${T}/moved" || fail "mv of a directory failed"
[ ! -e "${T}/a" ] || fail "tree/a still exists after mv"
expect "tree/moved/b/c/d/f7" "$(cat "${T}/moved/b/c/d/f7")" "a/b/c/d 7"
mv "${T}/moved/b/c" "${T}/c-up" || fail "mv of a directory to another parent failed"
mv "${T}/moved/f2" "${T}/moved/f1" || fail "mv over an existing file failed"
expect "tree/moved/f1 after mv over it" "$(cat "${T}/moved/f1")" "a 2"
rm -rf "${T}/moved/b" || fail "rm -rf tree/moved/b failed"
[ ! -e "${T}/moved/b" ] || fail "tree/moved/b still exists after rm -rf"
mkdir -p "${T}/junk/x/y/z" || fail "mkdir -p junk failed"
for i in $(seq 1 60); do
    echo "${i}" > "${T}/junk/x/j${i}"
    echo "${i}" > "${T}/junk/x/y/z/j${i}"
done
rm -rf "${T}/junk" || fail "rm -rf tree/junk failed"
[ ! -e "${T}/junk" ] || fail "tree/junk still exists after rm -rf"
drop_caches
expect "files in tree/ after the renames" "$(find "${T}" -type f | wc -l)" 119
expect "tree/c-up/d/f40" "$(cat "${T}/c-up/d/f40")" "a/b/c/d 40"
say "tree: $(find "${T}" | wc -l) entries after mkdir/mv/rm -rf"

# 5. Untar the host's tarball, check it, remove it.
U="${G}/untar"
mkdir "${U}" || fail "mkdir untar failed"
tar -xzf "${H}/tree.tar.gz" -C "${U}" || fail "untar of host/tree.tar.gz failed"
drop_caches
(cd "${U}/tree" && sha256sum -c -s SHA256SUMS) || fail "untarred files differ from SHA256SUMS"
expect "regular files untarred" "$(find "${U}/tree" -type f | wc -l)" \
    $(($(wc -l < "${U}/tree/SHA256SUMS") + 1))
expect "untarred symlink" "$(readlink "${U}/tree/link")" "d00/f00"
expect "untarred hard link count" "$(stat -c %h "${U}/tree/hardlink")" 2
expect "untarred hard link inode" "$(stat -c %i "${U}/tree/hardlink")" \
    "$(stat -c %i "${U}/tree/d00/f01")"
expect "mode of untarred bin/run.sh" "$(stat -c %a "${U}/tree/bin/run.sh")" 755
expect "mode of untarred private" "$(stat -c %a "${U}/tree/private")" 600
expect "mtime of untarred d00/f00" "$(stat -c %Y "${U}/tree/d00/f00")" "${TAR_MTIME}"
[ -d "${U}/tree/empty" ] || fail "the untarred empty folder is missing"
say "untar: $(find "${U}" | wc -l) entries"
rm -rf "${U}" || fail "rm -rf of the untarred tree failed"
[ ! -e "${U}" ] || fail "untar/ still exists after rm -rf"

# 6. fio with verification on shared files (page cache, no O_DIRECT;
# with DAX, reads and writes go through the DAX window, and the mmap job
# maps it into fio).
ENGINES="psync libaio"
case ",${OPTS}," in
*,dax=always,*) ENGINES="${ENGINES} mmap" ;;
esac
if [ "$(param fio 1)" != 0 ]; then
    mkdir "${G}/fio" || fail "mkdir fio failed"
    for engine in ${ENGINES}; do
        fio --name="vfs-${engine}" --filename="${G}/fio/${engine}.dat" \
            --ioengine="${engine}" --direct=0 --iodepth=4 --rw=randwrite \
            --bssplit=4k/50:16k/25:64k/25 --size=4M --verify=crc32c \
            --do_verify=1 --verify_fatal=1 --end_fsync=1 --eta=never \
            > "/tmp/fio-${engine}.log" 2>&1 || {
            tail -n 15 "/tmp/fio-${engine}.log"
            fail "fio ${engine} write+verify failed"
        }
        grep -q 'err= 0' "/tmp/fio-${engine}.log" || {
            tail -n 15 "/tmp/fio-${engine}.log"
            fail "fio ${engine} reported an error"
        }
        say "fio ${engine}: $(grep -o 'WRITE: bw=[^ ]*' "/tmp/fio-${engine}.log")"
    done
else
    say "fio skipped (fastio.vfs.fio=0)"
fi

# 6b. Several request queues: Linux 6.11+ sends a request on the queue of
# the CPU it runs on, so one workload pinned to each CPU must make every
# request queue's interrupt count grow.
# queue_irqs N: the interrupts of request queue N so far (all CPUs).
queue_irqs() {
    awk -v q="requests.$1" '
        { for (i = 1; i <= NF; i++) if ($i ~ ("-" q "$")) found = 1 }
        found { for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) n += $i; exit }
        END { print found ? n : -1 }' /proc/interrupts
}
if [ "${QUEUES}" -gt 1 ]; then
    cpus=$(nproc)
    [ "${cpus}" -ge "${QUEUES}" ] ||
        fail "${QUEUES} request queues need ${QUEUES} CPUs, the guest has ${cpus}"
    q=0
    while [ "${q}" -lt "${QUEUES}" ]; do
        eval "irq0_${q}=$(queue_irqs "${q}")"
        [ "$(queue_irqs "${q}")" -ge 0 ] ||
            fail "no interrupt of request queue ${q} in /proc/interrupts: $(grep -i virtio /proc/interrupts | tr -s ' ' | tr '\n' ';')"
        q=$((q + 1))
    done
    mkdir "${G}/mq" || fail "mkdir mq failed"
    drop_caches
    c=0
    while [ "${c}" -lt "${cpus}" ]; do
        taskset -c "${c}" sh -c "
            cat \"${H}\"/rand-* > /dev/null &&
            dd if=/tmp/pat-3 of=\"${G}/mq/cpu${c}\" bs=64k 2>/dev/null &&
            sync \"${G}/mq/cpu${c}\"" || fail "the workload pinned to CPU ${c} failed"
        c=$((c + 1))
    done
    drop_caches
    c=0
    while [ "${c}" -lt "${cpus}" ]; do
        expect "sha256 of guest/mq/cpu${c}" "$(sum "${G}/mq/cpu${c}")" "$(sum /tmp/pat-3)"
        c=$((c + 1))
    done
    q=0
    counts=""
    while [ "${q}" -lt "${QUEUES}" ]; do
        eval "before=\${irq0_${q}}"
        now=$(queue_irqs "${q}")
        [ "${now}" -gt "${before}" ] ||
            fail "request queue ${q} served nothing (interrupts ${before} -> ${now})"
        counts="${counts} requests.${q}:+$((now - before))"
        q=$((q + 1))
    done
    rm -rf "${G}/mq" || fail "rm -rf mq failed"
    say "queues:${counts}"
fi

# 7. Ownership, modes and special files (security-model=mapped-xattr).
P="${G}/perm"
mkdir "${P}" || fail "mkdir perm failed"
echo data > "${P}/own" || fail "create own failed"
chown 1234:5678 "${P}/own" || fail "chown 1234:5678 failed"
chmod 4751 "${P}/own" || fail "chmod 4751 failed"
echo plain > "${P}/plain" || fail "create plain failed"
mkdir "${P}/dir" || fail "mkdir dir failed"
chown 42:43 "${P}/dir" || fail "chown of a folder failed"
chmod 1777 "${P}/dir" || fail "chmod 1777 of a folder failed"
ln -s ../perm/own "${P}/sym" || fail "symlink failed"
chown -h 77:88 "${P}/sym" || fail "chown -h of a symlink failed"
ln "${P}/own" "${P}/hard" || fail "hard link failed"
mkfifo -m 0640 "${P}/fifo" || fail "mkfifo failed"
mknod -m 0644 "${P}/null" c 1 3 || fail "mknod c 1 3 failed"

echo more >> "${P}/hard" || fail "append through the hard link failed"
expect "own after a write through hard" "$(cat "${P}/own")" "data
more"

# perm_check: what the guest must see (again after a remount).
perm_check() {
    expect "$1: own" "$(stat -c '%F %a %u %g %h %s' "${P}/own")" "regular file 4751 1234 5678 2 10"
    expect "$1: plain" "$(stat -c '%F %a %u %g' "${P}/plain")" "regular file 644 0 0"
    expect "$1: dir" "$(stat -c '%F %a %u %g' "${P}/dir")" "directory 1777 42 43"
    expect "$1: sym" "$(stat -c '%F %u %g' "${P}/sym")" "symbolic link 77 88"
    expect "$1: readlink sym" "$(readlink "${P}/sym")" "../perm/own"
    expect "$1: read through sym" "$(head -n 1 "${P}/sym")" "data"
    expect "$1: hard inode" "$(stat -c %i "${P}/hard")" "$(stat -c %i "${P}/own")"
    expect "$1: fifo" "$(stat -c '%F %a' "${P}/fifo")" "fifo 640"
    expect "$1: null" "$(stat -c '%F %a %t %T' "${P}/null")" "character special file 644 1 3"
}
perm_check "before remount"
# The FIFO and the device node are the guest's: a FIFO passes data between
# guest processes, the node is the guest's /dev/null.
(echo through-the-fifo > "${P}/fifo") &
read -r line < "${P}/fifo"
wait
expect "line read from the fifo" "${line}" "through-the-fifo"
echo discarded > "${P}/null" || fail "write to the device node failed"
expect "bytes read from the device node" "$(head -c 16 "${P}/null" | wc -c)" 0
# Forget every cached inode: the attributes must come back from the host.
cd / || fail "cd / failed"
umount "${M}" || fail "umount before the remount failed"
vfs_mount
perm_check "after remount"
expect "plain after remount" "$(cat "${P}/plain")" "plain"
say "perm: $(stat -c '%A %u:%g %n' "${P}"/* | tr '\n' ';')"

# 8. Done: everything to the host, and a clean unmount.
sync
[ -d "${H}" ] || fail "host/ vanished"
umount "${M}" || fail "the final umount failed"
echo "FASTIO-RESULT PASS vfs"
