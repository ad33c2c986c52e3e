# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=sh
#
# Guest side of bench/fsbench.py: mounts the shared folder (virtio-fs or
# 9p) and runs the jobs named by fastio.bench.jobs=a,b,... in it.
#
# Kernel command line:
#   fastio.fs.type=virtiofs|9p   how to mount the share
#   fastio.fs.tag=TAG            its tag (default "share")
#   fastio.fs.opts=OPTS          extra mount options (e.g. dax=always)
#   fastio.bench.jobs=LIST       the jobs, in order (see job_args, meta,
#                                untar; idle sleeps for the runtime, to
#                                measure the host's CPU use of an idle guest)
#   fastio.bench.runtime=SEC     seconds per fio job
#   fastio.bench.size=MIB        size of the fio file (fio.dat, made by the host)
#   fastio.bench.files=N         files of the metadata job
#
# Console protocol (read by the host):
#   FASTIO-JOB-BEGIN <job> / FASTIO-JOB-END <job>
#       the job runs between them; the host samples CPU time at each
#   FASTIO-JSON-BEGIN <job> ... FASTIO-JSON-END <job>
#       fio's JSON report of a fio job
#   FASTIO-TIME <job> <uptime at begin> <uptime at end>
#       the guest's clock around a job that is not fio
#   FASTIO-TREE-SUM <md5>
#       md5 of the md5sum list of the untarred tree (checked by the host)
# and ends with FASTIO-RESULT PASS bench-fs or FASTIO-RESULT FAIL bench-fs: ...

fstype=""
tag=share
opts=""
jobs=""
runtime=6
size=128
files=5000
read -r cmdline < /proc/cmdline
for arg in ${cmdline}; do
    case "${arg}" in
    fastio.fs.type=*) fstype="${arg#*=}" ;;
    fastio.fs.tag=*) tag="${arg#*=}" ;;
    fastio.fs.opts=*) opts="${arg#*=}" ;;
    fastio.bench.jobs=*) jobs="${arg#*=}" ;;
    fastio.bench.runtime=*) runtime="${arg#*=}" ;;
    fastio.bench.size=*) size="${arg#*=}" ;;
    fastio.bench.files=*) files="${arg#*=}" ;;
    esac
done

mnt=/mnt/share

fail() {
    echo "FASTIO-RESULT FAIL bench-fs: $*"
    exit 1
}

uptime_now() {
    read -r up _ < /proc/uptime
    echo "${up}"
}

T0=""
begin() {
    echo "FASTIO-JOB-BEGIN $1"
    T0=$(uptime_now)
}

end() {
    t1=$(uptime_now)
    echo "FASTIO-JOB-END $1"
    echo "FASTIO-TIME $1 ${T0} ${t1}"
}

count_entries() {
    find "$1" -mindepth 1 -maxdepth 1 | wc -l
}

job_args() {
    case "$1" in
    randread-4k-psync) echo "--rw=randread --bs=4k --ioengine=psync --iodepth=1" ;;
    randread-4k-libaio-qd16) echo "--rw=randread --bs=4k --ioengine=libaio --iodepth=16" ;;
    randwrite-4k-psync) echo "--rw=randwrite --bs=4k --ioengine=psync --iodepth=1" ;;
    randwrite-4k-libaio-qd16) echo "--rw=randwrite --bs=4k --ioengine=libaio --iodepth=16" ;;
    # two jobs, one pinned to each CPU: Linux 6.11+ puts each CPU's
    # requests on its own request queue
    randread-4k-libaio-2x8) echo "--rw=randread --bs=4k --ioengine=libaio --iodepth=8 --numjobs=2 --cpus_allowed=0-1 --cpus_allowed_policy=split" ;;
    seqread-1m) echo "--rw=read --bs=1M --ioengine=psync --iodepth=1" ;;
    seqwrite-1m) echo "--rw=write --bs=1M --ioengine=psync --iodepth=1" ;;
    *) return 1 ;;
    esac
}

fio_job() {
    job="$1"
    fargs="$2"
    echo "FASTIO-JOB-BEGIN ${job}"
    # shellcheck disable=SC2086 # fargs is a list of options
    if ! fio --name="${job}" --filename="${mnt}/fio.dat" --size="${size}M" \
        --direct=1 --time_based --runtime="${runtime}" --numjobs=1 \
        --group_reporting --output-format=json --output=/tmp/fio.json \
        ${fargs}; then
        cat /tmp/fio.json 2>/dev/null
        fail "fio ${job} failed"
    fi
    echo "FASTIO-JOB-END ${job}"
    echo "FASTIO-JSON-BEGIN ${job}"
    cat /tmp/fio.json
    echo "FASTIO-JSON-END ${job}"
}

# Create, stat, rename (into a second folder) and delete ${files} small
# files; each phase is a job of its own.
meta() {
    a="${mnt}/meta-a"
    b="${mnt}/meta-b"
    rm -rf "${a}" "${b}"
    mkdir "${a}" "${b}" || fail "meta: mkdir failed"

    begin meta-create
    i=0
    while [ "${i}" -lt "${files}" ]; do
        echo "small file ${i}" > "${a}/f${i}" || fail "meta-create: ${a}/f${i}"
        i=$((i + 1))
    done
    end meta-create
    n=$(count_entries "${a}")
    [ "${n}" -eq "${files}" ] || fail "meta-create: ${n} files, not ${files}"

    begin meta-stat
    i=0
    while [ "${i}" -lt "${files}" ]; do
        [ -s "${a}/f${i}" ] || fail "meta-stat: ${a}/f${i} is missing or empty"
        i=$((i + 1))
    done
    end meta-stat

    begin meta-rename
    mv "${a}"/* "${b}/" || fail "meta-rename: mv failed"
    end meta-rename
    n=$(count_entries "${a}")
    [ "${n}" -eq 0 ] || fail "meta-rename: ${n} files left behind"
    n=$(count_entries "${b}")
    [ "${n}" -eq "${files}" ] || fail "meta-rename: ${n} files arrived, not ${files}"
    last=$((files - 1))
    read -r line < "${b}/f${last}"
    [ "${line}" = "small file ${last}" ] ||
        fail "meta-rename: f${last} holds '${line}'"

    begin meta-delete
    rm -f "${b}"/* || fail "meta-delete: rm failed"
    end meta-delete
    n=$(count_entries "${b}")
    [ "${n}" -eq 0 ] || fail "meta-delete: ${n} files left"
    rmdir "${a}" "${b}" || fail "meta: rmdir failed"
}

# Untar the host's src.tar into the share, check the tree, remove it.
untar() {
    t="${mnt}/untar"
    [ -f "${mnt}/src.tar" ] || fail "untar: no src.tar in the share"
    rm -rf "${t}"
    mkdir "${t}" || fail "untar: mkdir failed"
    begin untar
    tar -xf "${mnt}/src.tar" -C "${t}" || fail "untar: tar failed"
    end untar
    sum=$(cd "${t}" && find . -type f | sort | xargs md5sum | md5sum)
    echo "FASTIO-TREE-SUM ${sum%% *}"
    begin rm-rf
    rm -rf "${t}" || fail "rm-rf: rm failed"
    end rm-rf
    [ ! -e "${t}" ] || fail "rm-rf: ${t} still exists"
}

mkdir -p "${mnt}"
i=0
while :; do
    case "${fstype}" in
    virtiofs) mount -t virtiofs ${opts:+-o "${opts}"} "${tag}" "${mnt}" && break ;;
    9p)
        mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=mmap \
            "${tag}" "${mnt}" && break ;;
    *) fail "unknown fastio.fs.type '${fstype}'" ;;
    esac
    i=$((i + 1))
    [ "${i}" -le 20 ] || fail "cannot mount the ${fstype} share '${tag}'"
    sleep 0.5
done
[ -f "${mnt}/fio.dat" ] || fail "no fio.dat in the share"
case ",${opts}," in
*,dax=always,*)
    grep " ${mnt} " /proc/mounts | grep -q dax=always ||
        fail "the share is not mounted with dax=always: $(grep " ${mnt} " /proc/mounts)" ;;
esac
grep " ${mnt} " /proc/mounts | sed 's/^/mount: /'

for job in $(echo "${jobs}" | tr ',' ' '); do
    case "${job}" in
    idle)
        begin idle
        sleep "${runtime}"
        end idle ;;
    meta) meta ;;
    untar) untar ;;
    *)
        fargs=$(job_args "${job}") || fail "unknown job ${job}"
        fio_job "${job}" "${fargs}" ;;
    esac
done
umount "${mnt}" || fail "umount failed"
# Which interrupts the devices used (MSI-X or INTx), for the log.
grep -i -e virtio -e CPU /proc/interrupts | sed 's/^/interrupts: /'
echo "FASTIO-RESULT PASS bench-fs"
