#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# libvirt end to end: Debian's libvirtd, started for this test only, runs a
# transient domain whose <emulator> is our qemu-system-x86_64, with
# <iothreads> and a disk <driver cache='none' io='native' iothread='1'/>,
# booting the guest-test kernel and initramfs.  The guest's blk-native
# scenario must pass on the serial log; `virsh domcapabilities
# --emulatorbin` must accept the binary.  A second domain (domain-vfs.xml)
# adds our in-process virtio-fs-pci through the qemu:commandline namespace,
# with two request queues on libvirt's iothread1 and iothread2 and a DAX
# window, with no <memoryBacking>; its guest mounts it with dax=always,
# runs the vfs scenario and the host checks the share afterwards
# (guest/vfs-host.sh).
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
# shellcheck source=tests/guest/vfs-host.sh
source "$(dirname "$0")/../guest/vfs-host.sh"

readonly VFS_TITLE="libvirt: virtio-fs-pci via qemu:commandline (2 queues on 2 iothreads, DAX), no <memoryBacking>, passes vfs"
readonly TIMEOUT=240
readonly DISK_MIB=64

QEMU_BIN=${QEMU:-${ROOT}/build/fastio/obj/qemu-system-x86_64}
LOGDIR="${ROOT}/build/test-logs/libvirt"
WORK=""   # private temporary folder (in /dev/shm)
GUEST=""  # folder with vmlinuz and initramfs.img
VT=""     # domain type: qemu (TCG) or kvm

# Which program this test needs is not installed, or nothing: a failure,
# since ci/install-deps.sh --tests (run by tests/run.sh as root) installs
# them all.
not_installed() {
    local t
    for t in libvirtd virsh unshare; do
        command -v "${t}" >/dev/null 2>&1 ||
            { echo "${t} is not installed (ci/install-deps.sh --tests)"; return; }
    done
}

# Why libvirt cannot run here, or nothing.
cannot_run() {
    [[ ${EUID} -eq 0 ]] || { echo "needs root for a private mount namespace"; return; }
    unshare -m true 2>/dev/null || { echo "cannot make a mount namespace"; return; }
    [[ -x "${QEMU_BIN}" ]] || { echo "${QEMU_BIN} is not built"; return; }
}

# run_domain WORK KEY: create the transient domain WORK/KEY.domain.xml,
# wait for it to end; prints KEY:CREATE-OK or KEY:CREATE-FAIL, and
# KEY:GUEST-TIMEOUT; QEMU's log goes to WORK/KEY.qemu.log.
run_domain() {
    local work="$1" key="$2" dom i
    dom=$(sed -n 's|.*<name>\(.*\)</name>.*|\1|p' "${work}/${key}.domain.xml")
    if ! virsh -c qemu:///system create "${work}/${key}.domain.xml" \
        >"${work}/${key}.create.log" 2>&1; then
        echo "${key}:CREATE-FAIL"
    else
        for ((i = 0; i < TIMEOUT; i++)); do
            virsh -c qemu:///system domstate "${dom}" >/dev/null 2>&1 || break
            sleep 1
        done
        if virsh -c qemu:///system domstate "${dom}" >/dev/null 2>&1; then
            virsh -c qemu:///system destroy "${dom}" >/dev/null 2>&1 || true
            echo "${key}:GUEST-TIMEOUT"
        fi
        echo "${key}:CREATE-OK"
    fi
    cp "/var/log/libvirt/qemu/${dom}.log" "${work}/${key}.qemu.log" 2>/dev/null || true
}

# The part that runs inside the private mount namespace: a libvirtd whose
# QEMU runs as USER (root, or an unprivileged user with its own group)
# runs the domains WORK/KEY.domain.xml, one after the other.
# private_root WORK NAME USER [UUID]: (inside a private mount namespace)
# libvirt's folders from WORK/root-NAME, and a configuration for a
# libvirtd whose QEMU runs as USER (host_uuid UUID if given).
private_root() {
    local work="$1" name="$2" user="$3" uuid="${4:-}" group d
    group=$(id -gn "${user}")
    for d in /etc/libvirt /run/libvirt /var/lib/libvirt /var/cache/libvirt \
        /var/log/libvirt; do
        mkdir -p "${work}/root-${name}${d}" "${d}"
        mount --bind "${work}/root-${name}${d}" "${d}"
    done
    cat > /etc/libvirt/libvirtd.conf <<EOF
unix_sock_group = "root"
auth_unix_rw = "none"
log_outputs = "3:stderr"
EOF
    [[ -z "${uuid}" ]] ||
        echo "host_uuid = \"${uuid}\"" >> /etc/libvirt/libvirtd.conf
    cat > /etc/libvirt/qemu.conf <<EOF
user = "${user}"
group = "${group}"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
EOF
    mkdir -p /var/lib/libvirt/qemu /var/cache/libvirt/qemu /var/log/libvirt/qemu
}

inside() {
    local work="$1" user="$2" d
    shift 2
    private_root "${work}" "${user}" "${user}"

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

    if [[ "${user}" == root ]]; then
        if virsh -c qemu:///system domcapabilities --emulatorbin "${QEMU_BIN}" \
            --virttype "${VIRT_TYPE}" --arch x86_64 >"${work}/domcaps.xml" 2>&1 &&
            grep -q "<path>${QEMU_BIN}</path>" "${work}/domcaps.xml"; then
            echo "DOMCAPS-OK"
        else
            echo "DOMCAPS-FAIL"
        fi
    fi

    for d in "$@"; do
        run_domain "${work}" "${d}"
    done
    kill "${pid}" 2>/dev/null || true
    wait "${pid}" 2>/dev/null || true
}

# fill_domain TEMPLATE OUT SERIAL [SED-EXPR...]: the domain XML with the
# common @...@ filled in (EMULATOR and GUEST_DIR: QEMU and the guest, if
# not the usual ones; @EXTRA@: arguments for QEMU, none by default).
fill_domain() {
    local template="$1" out="$2" serial="$3"
    shift 3
    sed -e "s|@EMULATOR@|${EMULATOR:-${QEMU_BIN}}|" -e "s|@TYPE@|${VT}|" \
        -e "s|@GUEST@|${GUEST_DIR:-${GUEST}}|g" -e "s|@SERIAL@|${serial}|" \
        "$@" -e "s|@EXTRA@||" "${TESTS_DIR}/libvirt/${template}" > "${out}"
}

# keep_logs KEY: keep what WORK has of domain KEY in LOGDIR.
keep_logs() {
    local f
    mkdir -p "${LOGDIR}"
    for f in "${WORK}/$1".*.log "${WORK}/$1.domain.xml" "${WORK}/libvirtd.log"; do
        [[ ! -f "${f}" ]] || cp "${f}" "${LOGDIR}/"
    done
    cat "${WORK}/inside.err" >> "${LOGDIR}/inside.err" 2>/dev/null || true
    echo "    logs kept in ${LOGDIR#"${ROOT}"/}"
}

# check_sandbox KEY: libvirt's -sandbox on the domain's QEMU command line.
check_sandbox() {
    local key="$1" title="$2" sandbox
    sandbox=$(grep -o -- '-sandbox [^ ]*' "${WORK}/${key}.qemu.log" 2>/dev/null || true)
    if [[ "${sandbox}" == *"spawn=deny"* && "${sandbox}" == *"elevateprivileges=deny"* ]]; then
        result pass "${title}"
        echo "    libvirt ran: ${sandbox}"
    else
        result fail "${title}" "qemu command line has '${sandbox:-no -sandbox}'"
    fi
}

check_blk() {
    local out="$1" title
    title="libvirt: domain with our emulator, io='native' on an iothread, passes blk-native"
    if [[ "${out}" == *blk:CREATE-OK* && "${out}" != *blk:GUEST-TIMEOUT* ]] &&
        grep -q '^FASTIO-RESULT PASS blk-native$' < <(tr -d '\r' 2>/dev/null < "${WORK}/blk.serial.log") &&
        grep -q 'aio=native\|"aio":"native"' "${WORK}/blk.qemu.log"; then
        result pass "${title}"
    else
        result fail "${title}" "$(grep -o 'blk:[A-Z-]*' <<< "${out}" | tr '\n' ' ')"
        keep_logs blk
    fi
    check_sandbox blk "libvirt: the domain ran under libvirt's seccomp sandbox"
}

# check_vfs OUT KEY TITLE: the vfs domain KEY passed, and its share
check_vfs() {
    local out="$1" key="$2" title="$3" reason="" outcome=FAIL serial line
    serial=$(tr -d '\r' 2>/dev/null < "${WORK}/${key}.serial.log" || true)
    line=$(grep '^FASTIO-RESULT ' <<< "${serial}" || true)
    if [[ "${out}" != *${key}:CREATE-OK* ]]; then
        reason="virsh create failed: $(tail -n 1 "${WORK}/${key}.create.log" 2>/dev/null)"
    elif [[ "${out}" == *${key}:GUEST-TIMEOUT* ]]; then
        reason="the guest did not power off within ${TIMEOUT} s"
    elif [[ "${line}" != "FASTIO-RESULT PASS vfs" ]]; then
        reason=${line:-"no FASTIO-RESULT line on the serial console"}
    elif ! grep -q '"driver":"virtio-fs-pci"' "${WORK}/${key}.qemu.log"; then
        reason="no -device virtio-fs-pci on QEMU's command line"
    elif grep -qi 'memfd\|share=on\|-mem-path' "${WORK}/${key}.qemu.log"; then
        reason="QEMU got shared guest memory: $(grep -oi 'memfd[^ ]*\|[^ ]*share=on[^ ]*\|-mem-path [^ ]*' "${WORK}/${key}.qemu.log" | head -n 1 || true)"
    else
        outcome=PASS
    fi
    if [[ "${outcome}" == PASS ]]; then
        result pass "${title}"
    else
        result fail "${title}" "${reason}"
    fi
    check_sandbox "${key}" "libvirt: ${key}: the virtio-fs domain ran under libvirt's seccomp sandbox"
    vfs_check "libvirt: ${key}" "${outcome}"
    if [[ "${outcome}" != PASS || ${VFS_FAILED} -ne 0 ]]; then
        keep_logs "${key}"
        vfs_dump "${LOGDIR}/${key}.share.log"
        tail -n 20 <<< "${serial}" | grep -v '^kmsg: ' | sed 's/^/    | /'
    fi
}

# The vfs domain again, with QEMU run by libvirt as an unprivileged user
# (libvirt-qemu, Debian's default) who owns the share and holds no
# capability: QEMU, its firmware and the guest are copied where that user
# can read them (the build tree may not be), and the share is chowned.
run_user_vfs() {
    local user title out dir
    user=$(vfs_unprivileged_user)
    title="libvirt: virtio-fs-pci with QEMU as ${user}, who owns the share, passes vfs"
    dir="${WORK}/user"
    rm -rf "${VFS_ROOT}" "${VFS_EXPECT}"
    if ! vfs_user_copy "${dir}" "${QEMU_BIN}" "${GUEST}" ||
        ! vfs_prepare "${WORK}/user-vfs" "${WORK}/user-vfs-expect"; then
        result fail "${title}" "${VFS_REASON}"
        return 0
    fi
    chmod 0711 "${WORK}"
    chown -R "${user}:" "${VFS_SHARE}"
    # QEMU opens the serial log itself
    install -o "${user}" -m 0644 /dev/null "${WORK}/user-vfs.serial.log"
    EMULATOR="${dir}/qemu-system-x86_64" GUEST_DIR="${dir}" \
    fill_domain domain-vfs.xml "${WORK}/user-vfs.domain.xml" \
        "${WORK}/user-vfs.serial.log" \
        -e "s|<name>fastio-e2e-vfs</name>|<name>fastio-e2e-vfs-user</name>|" \
        -e "s|@EXTRA@|<qemu:arg value='-L'/><qemu:arg value='${dir}/fw'/>|" \
        -e "s|@APPEND@|${VFS_APPEND}|" -e "s|@TAG@|${VFS_TAG}|" \
        -e "s|@SHARE@|${VFS_SHARE}|"
    echo "    user-vfs: QEMU as ${user}, seed ${VFS_SEED}, share ${VFS_SHARE}"
    out=$(unshare -m --propagation private "${BASH_SOURCE[0]}" --inside \
        "${WORK}" "${VT}" "${user}" user-vfs 2>>"${WORK}/inside.err") || true
    if [[ "${out}" == *DAEMON-DOWN* ]]; then
        result fail "${title}" "libvirtd did not start the second time"
        return 0
    fi
    # the files the guest made must be the user's: QEMU ran as the user
    VFS_OWNER="$(id -u "${user}"):$(id -g "${user}")" \
        check_vfs "${out}" user-vfs "${title}"
}

# --daemon WORK NAME UUID, in private mount and UTS namespaces: a libvirtd
# of its own (hostname fastio-NAME, host_uuid UUID, so that libvirt takes
# the other one for another host) that runs until it is killed; its
# socket is WORK/root-NAME/run/libvirt/libvirt-sock.
daemon() {
    local work="$1" name="$2" uuid="$3"
    hostname "fastio-${name}"
    private_root "${work}" "${name}" root "${uuid}"
    exec libvirtd -p "${work}/libvirtd-${name}.pid" >"${work}/libvirtd-${name}.log" 2>&1
}

# mig_uri NAME: the URI of daemon NAME's socket, from outside
mig_uri() {
    echo "qemu+unix:///system?socket=${WORK}/root-$1/run/libvirt/libvirt-sock"
}

# mig_rounds: the last round the vfs-migrate guest reported
mig_rounds() {
    tr -d '\r' < "${WORK}/mig.serial.log" 2>/dev/null |
        sed -n 's/^FASTIO-MIGRATE iter \([0-9]*\)$/\1/p' | tail -n 1
}

# mig_wait_round N SECONDS: wait until the guest reports a round after N
mig_wait_round() {
    local n="$1" i r
    for ((i = 0; i < $2 * 5; i++)); do
        r=$(mig_rounds)
        [[ -z "${r}" || ${r} -le ${n} ]] || return 0
        sleep 0.2
    done
    return 1
}

# The virtio-fs domain (with a DAX window, mounted dax=always) migrated
# live with virsh from one libvirtd to another on this host and back,
# while its guest works on the share: each side must run it in turn, the
# guest must go on after each switch-over, its flock() must hold, and it
# must pass in the end.
run_migrate_vfs() {
    local title dom=fastio-e2e-vfs-migrate src dst pids=() reason="" i r
    local from to
    title="libvirt: virsh migrate --live of the virtio-fs domain (DAX, dax=always) to another libvirtd and back, guest working on the share"
    mkdir -p "${WORK}/mig-share"
    fill_domain domain-vfs-migrate.xml "${WORK}/mig.domain.xml" \
        "${WORK}/mig.serial.log" -e "s|@TAG@|${VFS_TAG}|g" \
        -e "s|@SHARE@|${WORK}/mig-share|"
    src=$(mig_uri src)
    dst=$(mig_uri dst)
    unshare -m -u --propagation private "${BASH_SOURCE[0]}" --daemon \
        "${WORK}" src 5f1a0e50-0000-4000-8000-000000000001 &
    pids+=($!)
    unshare -m -u --propagation private "${BASH_SOURCE[0]}" --daemon \
        "${WORK}" dst 5f1a0e50-0000-4000-8000-000000000002 &
    pids+=($!)
    for ((i = 0; i < 100; i++)); do
        virsh -c "${src}" list >/dev/null 2>&1 &&
            virsh -c "${dst}" list >/dev/null 2>&1 && break
        sleep 0.2
    done
    if ! virsh -c "${src}" list >/dev/null 2>&1 ||
        ! virsh -c "${dst}" list >/dev/null 2>&1; then
        reason="the two libvirtd did not both start"
    elif ! virsh -c "${src}" create "${WORK}/mig.domain.xml" \
        >"${WORK}/mig.create.log" 2>&1; then
        reason="virsh create failed: $(tail -n 1 "${WORK}/mig.create.log")"
    elif ! mig_wait_round 0 150; then
        reason="the guest never started its rounds"
    fi
    from=${src}
    to=${dst}
    for i in 1 2; do
        [[ -z "${reason}" ]] || break
        r=$(mig_rounds)
        if ! virsh -c "${from}" migrate --live "${dom}" "${to}" \
            --migrateuri tcp://127.0.0.1 >"${WORK}/mig.migrate-${i}.log" 2>&1; then
            reason="virsh migrate ${i} failed: $(tail -n 1 "${WORK}/mig.migrate-${i}.log")"
        elif [[ "$(virsh -c "${to}" domstate "${dom}" 2>&1)" != running ]]; then
            reason="after migration ${i} the domain does not run on the destination"
        elif virsh -c "${from}" domstate "${dom}" >/dev/null 2>&1; then
            reason="after migration ${i} the domain is still on the source"
        elif ! mig_wait_round "${r}" 60; then
            reason="the guest made no progress after migration ${i} (round ${r})"
        fi
        from=${to}
        to=${src}
    done
    if [[ -z "${reason}" ]] &&
        flock -n -x "${WORK}/mig-share/work/keep" true 2>/dev/null; then
        reason="a host process could take the guest's flock() after the migrations"
    fi
    if [[ -z "${reason}" ]]; then
        : > "${WORK}/mig-share/done"
        for ((i = 0; i < 120; i++)); do
            virsh -c "${from}" domstate "${dom}" >/dev/null 2>&1 || break
            sleep 1
        done
        r=$(tr -d '\r' < "${WORK}/mig.serial.log" | grep '^FASTIO-RESULT ' || true)
        if virsh -c "${from}" domstate "${dom}" >/dev/null 2>&1; then
            reason="the guest did not power off after the migrations"
        elif [[ "${r}" != "FASTIO-RESULT PASS vfs-migrate" ]]; then
            reason=${r:-"no FASTIO-RESULT line on the serial console"}
        fi
    fi
    for from in "${src}" "${dst}"; do
        virsh -c "${from}" destroy "${dom}" >/dev/null 2>&1 || true
    done
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
    if [[ -z "${reason}" ]]; then
        result pass "${title}"
        echo "    $(tr -d '\r' < "${WORK}/mig.serial.log" | grep '^FASTIO-MIGRATE rounds')"
    else
        result fail "${title}" "${reason}"
        mkdir -p "${LOGDIR}"
        for r in "${WORK}"/mig.* "${WORK}"/libvirtd-*.log \
            "${WORK}"/root-*/var/log/libvirt/qemu/*.log; do
            [[ ! -f "${r}" ]] || cp "${r}" "${LOGDIR}/migrate-${r##*/}"
        done
        tr -d '\r' < "${WORK}/mig.serial.log" 2>/dev/null | grep -v '^kmsg: ' |
            tail -n 10 | sed 's/^/    | /'
    fi
}

main() {
    local why vfs_why="" vfs_fail=0 out title
    if [[ "${1:-}" == --inside ]]; then
        shift
        VIRT_TYPE=$2
        inside "$1" "${@:3}"
        return 0
    fi
    if [[ "${1:-}" == --daemon ]]; then
        shift
        daemon "$@"
    fi
    why=$(cannot_run)
    if [[ -n "${why}" ]]; then
        result skip "libvirt: domain with our emulator boots and passes blk-native" "${why}"
        result skip "${VFS_TITLE}" "${why}"
        return 0
    fi
    why=$(not_installed)
    if [[ -n "${why}" ]]; then
        result fail "libvirt: domain with our emulator boots and passes blk-native" "${why}"
        result fail "${VFS_TITLE}" "${why}"
        return 0
    fi
    if ! GUEST=$("${TESTS_DIR}/guest/build-initramfs.sh"); then
        result fail "libvirt: build the guest kernel and initramfs"
        return 0
    fi
    WORK=$(mktemp -d /dev/shm/fastio-libvirt.XXXXXX)
    # shellcheck disable=SC2064
    trap "rm -rf '${WORK}'" EXIT
    truncate -s "${DISK_MIB}M" "${WORK}/disk.raw"
    VT=qemu
    [[ "${FASTIO_GUEST_ACCEL:-}" == kvm ]] && VT=kvm

    fill_domain domain.xml "${WORK}/blk.domain.xml" "${WORK}/blk.serial.log" \
        -e "s|@DISK@|${WORK}/disk.raw|"
    vfs_why=$(vfs_not_installed)
    if [[ -n "${vfs_why}" ]]; then
        vfs_fail=1
    elif ! vfs_prepare "${WORK}/vfs" "${WORK}/vfs-expect"; then
        vfs_why=${VFS_REASON}
    fi
    if [[ -z "${vfs_why}" ]]; then
        fill_domain domain-vfs.xml "${WORK}/vfs.domain.xml" "${WORK}/vfs.serial.log" \
            -e "s|@APPEND@|${VFS_APPEND}|" -e "s|@TAG@|${VFS_TAG}|" \
            -e "s|@SHARE@|${VFS_SHARE}|"
        echo "    vfs: seed ${VFS_SEED}, share ${VFS_SHARE}"
    fi

    local keys=(blk)
    [[ -n "${vfs_why}" ]] || keys+=(vfs)
    out=$(unshare -m --propagation private "${BASH_SOURCE[0]}" --inside \
        "${WORK}" "${VT}" root "${keys[@]}" 2>"${WORK}/inside.err") || true

    mkdir -p "${LOGDIR}"
    if [[ "${out}" == *DAEMON-DOWN* ]]; then
        cp "${WORK}/libvirtd.log" "${LOGDIR}/" 2>/dev/null || true
        why="libvirtd did not start here (log in ${LOGDIR#"${ROOT}"/})"
        result skip "libvirt: domain with our emulator boots and passes blk-native" "${why}"
        result skip "${VFS_TITLE}" "${why}"
        return 0
    fi

    title="libvirt: virsh domcapabilities --emulatorbin accepts our binary"
    if [[ "${out}" == *DOMCAPS-OK* ]]; then
        result pass "${title}"
    else
        result fail "${title}"
        cp "${WORK}/domcaps.xml" "${LOGDIR}/" 2>/dev/null || true
    fi
    check_blk "${out}"
    if [[ ${vfs_fail} -eq 1 ]]; then
        result fail "${VFS_TITLE}" "${vfs_why}"
    elif [[ -n "${vfs_why}" ]]; then
        result skip "${VFS_TITLE}" "${vfs_why}"
    else
        check_vfs "${out}" vfs "${VFS_TITLE}"
        run_user_vfs
        run_migrate_vfs
    fi
}

{ main "$@"; exit $?; }
