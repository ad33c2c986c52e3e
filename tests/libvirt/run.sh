#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# libvirt end to end: Debian's libvirtd, started for this test only, runs a
# transient domain whose <emulator> is our qemu-system-x86_64, with
# <iothreads> and a disk <driver cache='none' io='native' iothread='1'/>,
# booting the guest-test kernel and initramfs.  The guest's blk-native
# scenario must pass on the serial log; `virsh domcapabilities
# --emulatorbin` must accept the binary.
#
# The daemon runs in a private mount namespace with its own /etc/libvirt,
# /run/libvirt and /var/{lib,cache,log}/libvirt, configured for root in a
# container (security driver none, no cgroups, no virtlogd), so nothing of
# the machine's own libvirt is touched.  It keeps libvirt's default seccomp
# sandbox (-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,
# resourcecontrol=deny).  Domain type 'qemu' (TCG) unless
# FASTIO_GUEST_ACCEL=kvm.
#
# Usage: tests/libvirt/run.sh            (reports through tests/lib.sh)

set -Eeuo pipefail
trap 'echo "tests/libvirt/run.sh: failed at line ${LINENO}: ${BASH_COMMAND}" >&2' ERR
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

readonly TIMEOUT=240
readonly DISK_MIB=64

QEMU_BIN=${QEMU:-${ROOT}/build/fastio/obj/qemu-system-x86_64}
LOGDIR="${ROOT}/build/test-logs/libvirt"

# Why libvirt cannot run here, or nothing.
cannot_run() {
    command -v libvirtd >/dev/null 2>&1 || { echo "libvirtd is not installed"; return; }
    command -v virsh >/dev/null 2>&1 || { echo "virsh is not installed"; return; }
    command -v unshare >/dev/null 2>&1 || { echo "unshare is not installed"; return; }
    [[ ${EUID} -eq 0 ]] || { echo "needs root for a private mount namespace"; return; }
    unshare -m true 2>/dev/null || { echo "cannot make a mount namespace"; return; }
    [[ -x "${QEMU_BIN}" ]] || { echo "${QEMU_BIN} is not built"; return; }
}

# The part that runs inside the private mount namespace.
inside() {
    local work="$1" guest="$2" d
    for d in /etc/libvirt /run/libvirt /var/lib/libvirt /var/cache/libvirt \
        /var/log/libvirt; do
        mkdir -p "${work}/root${d}" "${d}"
        mount --bind "${work}/root${d}" "${d}"
    done
    cat > /etc/libvirt/libvirtd.conf <<'EOF'
unix_sock_group = "root"
auth_unix_rw = "none"
log_outputs = "3:stderr"
EOF
    cat > /etc/libvirt/qemu.conf <<'EOF'
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
EOF
    mkdir -p /var/lib/libvirt/qemu /var/cache/libvirt/qemu /var/log/libvirt/qemu

    libvirtd -p "${work}/libvirtd.pid" >"${work}/libvirtd.log" 2>&1 &
    local pid=$! i
    for ((i = 0; i < 100; i++)); do
        virsh -c qemu:///system list --all >/dev/null 2>&1 && break
        sleep 0.2
    done
    if ! virsh -c qemu:///system list --all >/dev/null 2>&1; then
        echo "DAEMON-DOWN"
        return 0
    fi

    if virsh -c qemu:///system domcapabilities --emulatorbin "${QEMU_BIN}" \
        --virttype "${VIRT_TYPE}" --arch x86_64 >"${work}/domcaps.xml" 2>&1 &&
        grep -q "<path>${QEMU_BIN}</path>" "${work}/domcaps.xml"; then
        echo "DOMCAPS-OK"
    else
        echo "DOMCAPS-FAIL"
    fi

    sed -e "s|@EMULATOR@|${QEMU_BIN}|" -e "s|@TYPE@|${VIRT_TYPE}|" \
        -e "s|@GUEST@|${guest}|g" -e "s|@DISK@|${work}/disk.raw|" \
        -e "s|@SERIAL@|${work}/serial.log|" \
        "${TESTS_DIR}/libvirt/domain.xml" > "${work}/domain.xml"
    if ! virsh -c qemu:///system create "${work}/domain.xml" >"${work}/create.log" 2>&1; then
        echo "CREATE-FAIL"
    else
        for ((i = 0; i < TIMEOUT; i++)); do
            virsh -c qemu:///system domstate fastio-e2e >/dev/null 2>&1 || break
            sleep 1
        done
        if virsh -c qemu:///system domstate fastio-e2e >/dev/null 2>&1; then
            virsh -c qemu:///system destroy fastio-e2e >/dev/null 2>&1 || true
            echo "GUEST-TIMEOUT"
        fi
        echo "CREATE-OK"
    fi
    cp /var/log/libvirt/qemu/fastio-e2e.log "${work}/qemu.log" 2>/dev/null || true
    kill "${pid}" 2>/dev/null || true
    wait "${pid}" 2>/dev/null || true
}

main() {
    local why work guest out title sandbox
    if [[ "${1:-}" == --inside ]]; then
        shift
        VIRT_TYPE=$3
        inside "$1" "$2"
        return 0
    fi
    why=$(cannot_run)
    if [[ -n "${why}" ]]; then
        result skip "libvirt: domain with our emulator boots and passes blk-native" "${why}"
        return 0
    fi
    if ! guest=$("${TESTS_DIR}/guest/build-initramfs.sh"); then
        result fail "libvirt: build the guest kernel and initramfs"
        return 0
    fi
    work=$(mktemp -d /dev/shm/fastio-libvirt.XXXXXX)
    # shellcheck disable=SC2064
    trap "rm -rf '${work}'" EXIT
    truncate -s "${DISK_MIB}M" "${work}/disk.raw"
    local vt=qemu
    [[ "${FASTIO_GUEST_ACCEL:-}" == kvm ]] && vt=kvm

    out=$(unshare -m --propagation private "${BASH_SOURCE[0]}" --inside \
        "${work}" "${guest}" "${vt}" 2>"${work}/inside.err") || true

    mkdir -p "${LOGDIR}"
    if [[ "${out}" == *DAEMON-DOWN* ]]; then
        cp "${work}/libvirtd.log" "${LOGDIR}/" 2>/dev/null || true
        result skip "libvirt: domain with our emulator boots and passes blk-native" \
            "libvirtd did not start here (log in ${LOGDIR#"${ROOT}"/})"
        return 0
    fi

    title="libvirt: virsh domcapabilities --emulatorbin accepts our binary"
    if [[ "${out}" == *DOMCAPS-OK* ]]; then
        result pass "${title}"
    else
        result fail "${title}"
        cp "${work}/domcaps.xml" "${LOGDIR}/" 2>/dev/null || true
    fi

    title="libvirt: domain with our emulator, io='native' on an iothread, passes blk-native"
    sandbox=$(grep -o -- '-sandbox [^ ]*' "${work}/qemu.log" 2>/dev/null || true)
    if [[ "${out}" == *CREATE-OK* && "${out}" != *GUEST-TIMEOUT* ]] &&
        tr -d '\r' < "${work}/serial.log" | grep -q '^FASTIO-RESULT PASS blk-native$' &&
        grep -q 'aio=native\|"aio":"native"' "${work}/qemu.log"; then
        result pass "${title}"
        info_line="${sandbox:-no -sandbox option seen}"
        echo "    libvirt ran: ${info_line}"
    else
        result fail "${title}" "$(echo "${out}" | tr '\n' ' ')"
        cp "${work}"/*.log "${work}/domain.xml" "${LOGDIR}/" 2>/dev/null || true
        cat "${work}/inside.err" >> "${LOGDIR}/inside.err" 2>/dev/null || true
        echo "    logs kept in ${LOGDIR#"${ROOT}"/}"
    fi
    title="libvirt: the domain ran under libvirt's seccomp sandbox"
    if [[ "${sandbox}" == *"spawn=deny"* && "${sandbox}" == *"elevateprivileges=deny"* ]]; then
        result pass "${title}"
    else
        result fail "${title}" "qemu command line has '${sandbox:-no -sandbox}'"
    fi
}

{ main "$@"; exit $?; }
