# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=sh
#
# Guest side of bench/guestbench.py: runs the fio jobs named by
# fastio.bench.jobs=a,b,... against /dev/vda, for fastio.bench.runtime
# seconds each.  Each job runs between FASTIO-JOB-BEGIN/END markers, at
# which the host samples QEMU's CPU time, and its JSON report follows
# between FASTIO-JSON-BEGIN/END markers.

jobs=""
runtime=8
read -r cmdline < /proc/cmdline
for arg in ${cmdline}; do
    case "${arg}" in
    fastio.bench.jobs=*) jobs="${arg#*=}" ;;
    fastio.bench.runtime=*) runtime="${arg#*=}" ;;
    esac
done

job_args() {
    case "$1" in
    randread-qd1) echo "--rw=randread --bs=4k --iodepth=1" ;;
    randread-qd32) echo "--rw=randread --bs=4k --iodepth=32" ;;
    randwrite-qd1) echo "--rw=randwrite --bs=4k --iodepth=1" ;;
    randwrite-qd32) echo "--rw=randwrite --bs=4k --iodepth=32" ;;
    seqwrite-64k-qd1) echo "--rw=write --bs=64k --iodepth=1" ;;
    *) return 1 ;;
    esac
}

i=0
while [ ! -b /dev/vda ]; do
    i=$((i + 1))
    if [ "${i}" -gt 50 ]; then
        echo "FASTIO-RESULT FAIL bench-blk: no /dev/vda"
        exit 1
    fi
    sleep 0.1
done

# qd1read-allocwrite: a QD1 4k reader on /dev/vda while a 1M QD8 writer
# fills /dev/vdb (a sparse file on the host); the reader's latency is
# what the report gives (the first job of fio's JSON).
alloc_job() {
    cat > /tmp/alloc.fio <<EOF
[global]
ioengine=libaio
direct=1
time_based
runtime=${runtime}
[reader]
filename=/dev/vda
rw=randread
bs=4k
iodepth=1
size=192M
[writer]
filename=/dev/vdb
rw=write
bs=1M
iodepth=8
EOF
    fio --output-format=json --output=/tmp/fio.json /tmp/alloc.fio
}

for job in $(echo "${jobs}" | tr ',' ' '); do
    if [ "${job}" = qd1read-allocwrite ]; then
        echo "FASTIO-JOB-BEGIN ${job}"
        if ! alloc_job; then
            echo "FASTIO-RESULT FAIL bench-blk: fio ${job} failed"
            exit 1
        fi
        echo "FASTIO-JOB-END ${job}"
        echo "FASTIO-JSON-BEGIN ${job}"
        cat /tmp/fio.json
        echo "FASTIO-JSON-END ${job}"
        continue
    fi
    if ! fargs=$(job_args "${job}"); then
        echo "FASTIO-RESULT FAIL bench-blk: unknown job ${job}"
        exit 1
    fi
    echo "FASTIO-JOB-BEGIN ${job}"
    # shellcheck disable=SC2086 # fargs is a list of options
    if ! fio --name="${job}" --filename=/dev/vda --direct=1 \
        --ioengine=libaio --size=192M --time_based --runtime="${runtime}" \
        --numjobs=1 --group_reporting --output-format=json \
        --output=/tmp/fio.json ${fargs}; then
        echo "FASTIO-RESULT FAIL bench-blk: fio ${job} failed"
        exit 1
    fi
    echo "FASTIO-JOB-END ${job}"
    echo "FASTIO-JSON-BEGIN ${job}"
    cat /tmp/fio.json
    echo "FASTIO-JSON-END ${job}"
done
echo "FASTIO-RESULT PASS bench-blk"
