#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The guest stage of tests/run.sh: boot a Linux guest (build-initramfs.sh)
# in our qemu-system-x86_64 and run the scenarios in scenarios/, one boot
# each.  A scenario passes when its console shows exactly one line
# "FASTIO-RESULT PASS <name>", last, between the FASTIO-BEGIN and
# FASTIO-END markers and QEMU exits by itself within the time limit;
# anything else fails it.  The console and QEMU's messages of a failed
# scenario are kept in build/test-logs/guest/.
#
# Usage: tests/guest/run.sh [SCENARIO...]
#   scenarios: blk-native blk-io_uring blk-negative vfs vfs-mq vfs-dax
#              vfs-user
#   (default: all)
# Environment:
#   QEMU=PATH                  the binary to test (default: the fastio build;
#                              e.g. build/stock/obj/qemu-system-x86_64)
#   FASTIO_GUEST_ACCEL=kvm|tcg use this accelerator, do not probe for KVM
#   FASTIO_GUEST_KERNEL=backports  boot <release>-backports' kernel (vfs-mq
#                              always does: it needs Linux 6.11+)
#   FASTIO_GUEST_TIMEOUT=SEC   limit per boot (default 150)
#   FASTIO_GUEST_KEEP_LOGS=1   keep the logs of passed scenarios too
#   FASTIO_VFS_SEED=N          the vfs scenario's seed (default: random)
#   FASTIO_RESULTS=FILE        where result lines are appended (tests/lib.sh)

set -Eeuo pipefail
trap 'echo "tests/guest/run.sh: failed at line ${LINENO}: ${BASH_COMMAND}" >&2' ERR
# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=tests/guest/vfs-host.sh
source "$(dirname "${BASH_SOURCE[0]}")/vfs-host.sh"

readonly GUEST_TESTS=${TESTS_DIR}/guest
readonly ALL_SCENARIOS=(blk-native blk-io_uring blk-negative vfs vfs-mq vfs-dax vfs-user)
readonly LOG_DIR=${ROOT}/build/test-logs/guest
readonly TIMEOUT=${FASTIO_GUEST_TIMEOUT:-150}
readonly PROBE_TIMEOUT=25
readonly DISK_MIB=64
# The blk scenarios discard this range (MiB) of their 16 MiB pattern.
readonly DISCARD_OFFSET_MIB=4 DISCARD_LENGTH_MIB=8
# The negative control fails reads of this sector (inside the pattern).
readonly BAD_SECTOR=2048

QEMU_BIN=""
GUEST=""     # folder with vmlinuz and initramfs.img
GUEST_MQ=""  # the same with a kernel whose virtiofs uses several queues
GUEST_MQ_WHY=""
BOOT_GUEST=""  # if set, boot() takes the guest from here instead
BOOT_SMP=1     # guest CPUs of boot()
BOOT_USER=""   # uid:gid: boot() runs QEMU as that user
BOOT_QEMU=""   # if set, boot() runs this QEMU binary
BOOT_DATA=""   # if set, QEMU's firmware folder (-L)
WORK=""      # private temporary folder
SHM=""       # disk images (tmpfs)
ACCEL=()     # -accel/-cpu arguments
ACCEL_NAME=""
BLK_ARGS=()  # set by blk_disk_args
BOOT_RC=0    # exit status of the last boot (124: timed out)
OUTCOME=""   # PASS, FAIL or BROKEN after parse_console
REASON=""

info() {
    echo "guest: $*"
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local d
    for d in "${WORK}" "${SHM}"; do
        [[ -z "${d}" ]] || rm -rf "${d}"
    done
}

# boot NAME SCENARIO LIMIT APPEND -- QEMU-ARGS...: boot the guest running
# SCENARIO with extra kernel arguments APPEND, console to ${WORK}/NAME.console,
# QEMU's messages to ${WORK}/NAME.qemu; kill it after LIMIT seconds.
boot() {
    local name="$1" scenario="$2" limit="$3" append="$4"
    shift 5
    local cmd=(
        "${BOOT_QEMU:-${QEMU_BIN}}" -name "fastio-${name},debug-threads=on"
        ${BOOT_DATA:+-L "${BOOT_DATA}"}
        -machine q35 "${ACCEL[@]}" -smp "${BOOT_SMP}" -m 512M
        -nodefaults -no-user-config -display none -no-reboot
        -serial "file:${WORK}/${name}.console"
        -kernel "${BOOT_GUEST:-${GUEST}}/vmlinuz"
        -initrd "${BOOT_GUEST:-${GUEST}}/initramfs.img"
        -append "console=ttyS0 panic=-1 quiet fastio.scenario=${scenario}${append:+ ${append}}"
        "$@"
    )
    printf '%q ' "${cmd[@]}" > "${WORK}/${name}.qemu"
    echo >> "${WORK}/${name}.qemu"
    : > "${WORK}/${name}.console"
    if [[ -n "${BOOT_USER}" ]]; then
        # QEMU opens the console file itself
        chown "${BOOT_USER}" "${WORK}/${name}.console"
        cmd=(setpriv --reuid="${BOOT_USER%%:*}" --regid="${BOOT_USER#*:}"
             --clear-groups "${cmd[@]}")
    fi
    BOOT_RC=0
    timeout --kill-after=5 "${limit}" "${cmd[@]}" \
        < /dev/null >> "${WORK}/${name}.qemu" 2>&1 || BOOT_RC=$?
}

# parse_console NAME SCENARIO: judge the console of a boot; sets OUTCOME to
# PASS or FAIL (the guest's verdict) or BROKEN (no clean verdict), and REASON.
parse_console() {
    local name="$1" scenario="$2" console section lines last
    console=$(tr -d '\r' < "${WORK}/${name}.console")
    OUTCOME=BROKEN
    REASON=""
    if [[ ${BOOT_RC} -eq 124 || ${BOOT_RC} -eq 137 ]]; then
        REASON="timed out after ${TIMEOUT} s"
    elif [[ ${BOOT_RC} -ne 0 ]]; then
        REASON="QEMU exited with status ${BOOT_RC}: $(tail -n 1 "${WORK}/${name}.qemu")"
    fi
    if ! grep -qx "FASTIO-INIT .*" <<< "${console}"; then
        REASON=${REASON:-"the guest never reached /init"}
        return 0
    fi
    if ! grep -qx "FASTIO-BEGIN ${scenario}" <<< "${console}"; then
        REASON=${REASON:-"the scenario did not start"}
        return 0
    fi
    section=$(sed -n "/^FASTIO-BEGIN ${scenario}\$/,/^FASTIO-END ${scenario} /p" <<< "${console}")
    if ! grep -q "^FASTIO-END ${scenario} " <<< "${section}"; then
        REASON=${REASON:-"the scenario did not finish"}
        return 0
    fi
    [[ -z "${REASON}" ]] || return 0
    # Drop the markers; the last remaining line must be the only result.
    section=$(sed '1d;$d' <<< "${section}" | sed '/^[[:space:]]*$/d')
    lines=$(grep -c '^FASTIO-RESULT' <<< "${section}" || true)
    last=$(tail -n 1 <<< "${section}")
    if [[ ${lines} -ne 1 ]]; then
        REASON="${lines} FASTIO-RESULT lines, want exactly 1"
    elif [[ "${last}" == "FASTIO-RESULT PASS ${scenario}" ]]; then
        OUTCOME=PASS
    elif [[ "${last}" == "FASTIO-RESULT FAIL ${scenario}: "* ]]; then
        OUTCOME=FAIL
        REASON=${last#"FASTIO-RESULT FAIL ${scenario}: "}
    else
        REASON="not a result line at the end: ${last}"
    fi
}

# keep_logs NAME: keep the boot's files in LOG_DIR and show the console's end.
keep_logs() {
    local name="$1" f
    mkdir -p "${LOG_DIR}"
    for f in console qemu; do
        cp "${WORK}/${name}.${f}" "${LOG_DIR}/${name}.${f}.log"
    done
    echo "    | QEMU: $(head -n 1 "${WORK}/${name}.qemu")"
    tr -d '\r' < "${WORK}/${name}.console" | sed '/^kmsg: /d' | tail -n 25 |
        sed 's/^/    | /'
    echo "    | (logs: ${LOG_DIR}/${name}.console.log, ${name}.qemu.log)"
}

# drop_logs NAME: a passed boot leaves no logs (unless FASTIO_GUEST_KEEP_LOGS=1).
drop_logs() {
    local name="$1" f
    for f in console qemu; do
        if [[ "${FASTIO_GUEST_KEEP_LOGS:-0}" == 1 ]]; then
            mkdir -p "${LOG_DIR}"
            cp "${WORK}/${name}.${f}" "${LOG_DIR}/${name}.${f}.log"
        else
            rm -f "${LOG_DIR}/${name}.${f}.log"
        fi
    done
}

# guest_mq: GUEST_MQ, a guest whose virtiofs driver uses several request
# queues (Linux 6.11+): ours if it is new enough, else the backports one.
guest_mq() {
    local g
    g=${GUEST}
    if ! kernel_at_least "$(cat "${g}/kernel-release")" 6 11; then
        if ! g=$("${GUEST_TESTS}/build-initramfs.sh" --backports); then
            GUEST_MQ_WHY="building the backports guest failed (messages above)"
            return 0
        fi
    fi
    if ! kernel_at_least "$(cat "${g}/kernel-release")" 6 11; then
        GUEST_MQ_WHY="the newest guest kernel here is $(cat "${g}/kernel-release")"
        return 0
    fi
    GUEST_MQ=${g}
}

# kernel_at_least RELEASE MAJOR MINOR
kernel_at_least() {
    local major minor
    IFS=. read -r major minor _ <<< "$1"
    [[ ${major} -gt $2 || ( ${major} -eq $2 && ${minor%%[!0-9]*} -ge $3 ) ]]
}

probe_accel() {
    local why
    case "${FASTIO_GUEST_ACCEL:-}" in
    kvm) ACCEL=(-accel kvm -cpu max); ACCEL_NAME=kvm; why="FASTIO_GUEST_ACCEL" ;;
    tcg) ACCEL=(-accel tcg -cpu max); ACCEL_NAME=tcg; why="FASTIO_GUEST_ACCEL" ;;
    "")
        ACCEL=(-accel tcg -cpu max)
        ACCEL_NAME=tcg
        if [[ ! -r /dev/kvm || ! -w /dev/kvm ]]; then
            why="no usable /dev/kvm"
        else
            ACCEL=(-accel kvm -cpu max)
            local start=${SECONDS}
            boot probe probe "${PROBE_TIMEOUT}" "" --
            if [[ ${BOOT_RC} -eq 0 ]] &&
                grep -q '^FASTIO-INIT ' < <(tr -d '\r' < "${WORK}/probe.console"); then
                ACCEL_NAME=kvm
                why="a KVM guest reached /init in $((SECONDS - start)) s"
            else
                ACCEL=(-accel tcg -cpu max)
                if [[ ${BOOT_RC} -eq 124 || ${BOOT_RC} -eq 137 ]]; then
                    why="a KVM guest did not reach /init within ${PROBE_TIMEOUT} s"
                else
                    why="KVM failed: $(tail -n 1 "${WORK}/probe.qemu")"
                fi
            fi
        fi
        ;;
    *) echo "tests/guest/run.sh: FASTIO_GUEST_ACCEL must be kvm or tcg" >&2; exit 2 ;;
    esac
    info "accelerator: ${ACCEL_NAME} (${ACCEL[*]}; ${why})"
}

# blk_disk_args NAME AIO [blkdebug]: the -object/-blockdev/-device
# arguments of a virtio-blk disk on an iothread, backed by a new raw file
# ${SHM}/NAME.raw; with "blkdebug", reads of BAD_SECTOR fail with EIO.
blk_disk_args() {
    local name="$1" aio="$2" debug="${3:-}" img="${SHM}/$1.raw" file=file0
    truncate -s "${DISK_MIB}M" "${img}"
    BLK_ARGS=(
        -object "iothread,id=iothread0"
        -blockdev "driver=file,node-name=file0,filename=${img},aio=${aio},cache.direct=on,discard=unmap"
    )
    if [[ "${debug}" == blkdebug ]]; then
        BLK_ARGS+=(-blockdev "driver=blkdebug,node-name=debug0,image=file0,inject-error.0.event=read_aio,inject-error.0.iotype=read,inject-error.0.sector=${BAD_SECTOR},inject-error.0.errno=5,inject-error.0.once=off")
        file=debug0
    fi
    BLK_ARGS+=(
        -blockdev "driver=raw,node-name=disk0,file=${file},discard=unmap"
        -device "virtio-blk-pci,drive=disk0,iothread=iothread0,discard=on"
    )
}

# host_discard_check IMG: the guest's discarded range of IMG must be a
# hole: zeroes, and no longer allocated.
host_discard_check() {
    local img="$1" alloc_kib max_kib
    if ! cmp -s -n $((DISCARD_LENGTH_MIB << 20)) \
        -i "$((DISCARD_OFFSET_MIB << 20)):0" "${img}" /dev/zero; then
        REASON="the discarded range of the backing file is not zeroes"
        return 1
    fi
    # 16 MiB were written, 8 MiB of them discarded.
    alloc_kib=$(($(stat -c '%b * %B' "${img}") / 1024))
    max_kib=$(((16 - DISCARD_LENGTH_MIB) * 1024 + 1024))
    if [[ ${alloc_kib} -gt ${max_kib} ]]; then
        REASON="the backing file still has ${alloc_kib} KiB allocated (want <= ${max_kib})"
        return 1
    fi
}

# scenario_blk NAME AIO: virtio-blk with aio=AIO; guest scenario NAME.
scenario_blk() {
    local name="$1" aio="$2" title
    title="guest: ${name} (virtio-blk on an iothread, aio=${aio}: verify, flush, discard)"
    blk_disk_args "${name}" "${aio}"
    boot "${name}" "${name}" "${TIMEOUT}" "fastio.discard_zeroes=1" -- "${BLK_ARGS[@]}"
    parse_console "${name}" "${name}"
    if [[ "${OUTCOME}" == PASS ]] && host_discard_check "${SHM}/${name}.raw"; then
        result pass "${title}"
        drop_logs "${name}"
    else
        result fail "${title}" "${REASON}"
        keep_logs "${name}"
    fi
    rm -f "${SHM}/${name}.raw"
}

# The negative control: blk-native against a disk whose reads of one sector
# fail must report FAIL (proving that the scenario and this parser can fail).
scenario_blk_negative() {
    local name=blk-negative title
    title="guest: blk scenario detects an I/O error (negative control)"
    blk_disk_args "${name}" native blkdebug
    boot "${name}" blk-native "${TIMEOUT}" "fastio.discard_zeroes=1" -- "${BLK_ARGS[@]}"
    parse_console "${name}" blk-native
    if [[ "${OUTCOME}" == FAIL ]] &&
        ! grep -q 'Input/output error' < <(tr -d '\r' < "${WORK}/${name}.console"); then
        OUTCOME=BROKEN
        REASON="blk-native failed, but not with an I/O error: ${REASON}"
    fi
    if [[ "${OUTCOME}" == FAIL ]]; then
        result pass "${title}"
        info "${name}: the guest reported, as intended: ${REASON}"
        drop_logs "${name}"
    else
        if [[ "${OUTCOME}" == PASS ]]; then
            REASON="blk-native passed on a disk that fails reads of sector ${BAD_SECTOR}"
        fi
        result fail "${title}" "${REASON}"
        keep_logs "${name}"
    fi
    rm -f "${SHM}/${name}.raw"
}

# libvirt's default seccomp sandbox, for the virtio-fs scenarios.
readonly VFS_SANDBOX=on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny

# scenario_vfs NAME TITLE APPEND -- QEMU-ARGS...: boot NAME with a
# virtio-fs-pci device on a host folder (QEMU-ARGS give the device; the
# word SOURCE in them is replaced by the share's path), guest scenario vfs
# with the extra kernel arguments APPEND, then the host checks what the
# guest left in the share (vfs-host.sh).
scenario_vfs() {
    local name="$1" title="$2" append="$3" why base arg args=()
    shift 4
    why=$(vfs_not_installed)
    if [[ -n "${why}" ]]; then
        result fail "${title}" "${why}"
        return 0
    fi
    for base in "${SHM}" "${WORK}"; do
        rm -rf "${base}/vfs" "${WORK}/vfs-expect"
        vfs_prepare "${base}/vfs" "${WORK}/vfs-expect" && break
        info "${name}: ${VFS_REASON}"
        rm -rf "${base}/vfs"
        VFS_SHARE=""
    done
    if [[ -z "${VFS_SHARE}" ]]; then
        result skip "${title}" "${VFS_REASON}"
        return 0
    fi
    if [[ -n "${BOOT_USER}" ]]; then
        # QEMU's user owns the share, as it must for mapped-xattr
        chown -R "${BOOT_USER}" "${VFS_SHARE}"
    fi
    for arg in "$@"; do
        args+=("${arg//SOURCE/${VFS_SHARE}}")
    done
    info "${name}: seed ${VFS_SEED}, share ${VFS_SHARE}"
    boot "${name}" vfs "${TIMEOUT}" "${VFS_APPEND}${append:+ ${append}}" -- \
        "${args[@]}" -sandbox "${VFS_SANDBOX}"
    parse_console "${name}" vfs
    if [[ "${OUTCOME}" == PASS ]]; then
        result pass "${title}"
    else
        result fail "${title}" "${REASON}"
    fi
    vfs_check "guest: ${name}" "${OUTCOME}"
    if [[ "${OUTCOME}" == PASS && ${VFS_FAILED} -eq 0 ]]; then
        drop_logs "${name}"
        rm -f "${LOG_DIR}/${name}.share.log"
    else
        keep_logs "${name}"
        vfs_dump "${LOG_DIR}/${name}.share.log"
        echo "    | (the share: ${LOG_DIR}/${name}.share.log; seed ${VFS_SEED})"
    fi
    rm -rf "${VFS_ROOT}" "${VFS_EXPECT}"
}

# The in-process virtio-fs device as libvirt would run it: its queues on an
# iothread, mapped-xattr, under libvirt's default seccomp sandbox.
scenario_vfs_plain() {
    scenario_vfs vfs \
        "guest: vfs (virtio-fs-pci, mapped-xattr, iothread, -sandbox: guest checks)" "" -- \
        -object iothread,id=io0 \
        -device "virtio-fs-pci,tag=${VFS_TAG},source=SOURCE,security-model=mapped-xattr,iothread=io0"
}

# Two request queues on two iothreads, requests handed to the thread pool,
# two guest CPUs: every queue must carry requests.  Linux sends requests on
# several queues from 6.11 on, so this boots <release>-backports' kernel.
scenario_vfs_mq() {
    local title="guest: vfs-mq (2 request queues on 2 iothreads, thread pool, 2 CPUs)"
    if [[ -z "${GUEST_MQ}" ]]; then
        result fail "${title}" "no guest with a multi-queue virtiofs driver: ${GUEST_MQ_WHY}"
        return 0
    fi
    info "vfs-mq: kernel $(cat "${GUEST_MQ}/kernel-release")"
    BOOT_GUEST=${GUEST_MQ} BOOT_SMP=2 scenario_vfs vfs-mq "${title}" "fastio.vfs.queues=2" -- \
        -object iothread,id=io0 -object iothread,id=io1 \
        -device "{\"driver\":\"virtio-fs-pci\",\"tag\":\"${VFS_TAG}\",\"source\":\"SOURCE\",\"security-model\":\"mapped-xattr\",\"num-request-queues\":2,\"thread-mode\":\"pool\",\"iothread-vq-mapping\":[{\"iothread\":\"io0\"},{\"iothread\":\"io1\"}]}"
}

# The DAX window: the guest mounts with dax=always, so file data moves
# through host file ranges mapped into the cache BAR (plus an mmap job).
scenario_vfs_dax() {
    scenario_vfs vfs-dax \
        "guest: vfs-dax (virtio-fs-pci cache-size=256M, mount -o dax=always)" \
        "fastio.vfs.opts=dax=always" -- \
        -object iothread,id=io0 \
        -device "virtio-fs-pci,tag=${VFS_TAG},source=SOURCE,security-model=mapped-xattr,iothread=io0,cache-size=256M"
}

# An unprivileged QEMU, as libvirt's system instance runs it: the vfs
# scenario (mapped-xattr, an iothread, libvirt's sandbox) with QEMU as
# libvirt-qemu (or nobody), who owns the share and holds no capability;
# and security-model=passthrough refused at realize, naming what it lacks.
scenario_vfs_user() {
    local title="guest: vfs-user (QEMU as an unprivileged user who owns the share, mapped-xattr)"
    local refused="guest: vfs-user: security-model=passthrough is refused without capabilities"
    local user uid gid dir out rc=0
    if [[ ${EUID} -ne 0 ]]; then
        result skip "${title}" "needs root to run QEMU as another user"
        result skip "${refused}" "needs root to run QEMU as another user"
        return 0
    fi
    user=$(vfs_unprivileged_user)
    uid=$(id -u "${user}")
    gid=$(id -g "${user}")
    dir="${SHM}/user"
    if ! vfs_user_copy "${dir}" "${QEMU_BIN}" "${GUEST}"; then
        result fail "${title}" "${VFS_REASON}"
        result fail "${refused}" "${VFS_REASON}"
        return 0
    fi
    # the console files in WORK and the share in SHM must be reachable
    chmod 0711 "${WORK}" "${SHM}"
    info "vfs-user: QEMU runs as ${user} (${uid}:${gid})"

    out=$(timeout 30 setpriv --reuid="${uid}" --regid="${gid}" --clear-groups \
        "${dir}/qemu-system-x86_64" -L "${dir}/fw" -machine q35 -accel tcg \
        -nodefaults -no-user-config -display none -S \
        -device "virtio-fs-pci,tag=t,source=${dir},security-model=passthrough" \
        < /dev/null 2>&1) || rc=$?
    if [[ ${rc} -eq 1 && "${out}" == *"needs CAP_CHOWN"* ]]; then
        result pass "${refused}"
    else
        result fail "${refused}" "exit ${rc}: $(tail -n 1 <<< "${out}")"
    fi

    BOOT_USER="${uid}:${gid}" BOOT_QEMU="${dir}/qemu-system-x86_64" \
    BOOT_DATA="${dir}/fw" BOOT_GUEST="${dir}" VFS_OWNER="${uid}:${gid}" \
    scenario_vfs vfs-user "${title}" "" -- \
        -object iothread,id=io0 \
        -device "virtio-fs-pci,tag=${VFS_TAG},source=SOURCE,security-model=mapped-xattr,iothread=io0"
    rm -rf "${dir}"
}

main() {
    local scenarios=("$@") s start build_args=() kernel
    [[ ${#scenarios[@]} -gt 0 ]] || scenarios=("${ALL_SCENARIOS[@]}")
    for s in "${scenarios[@]}"; do
        [[ " ${ALL_SCENARIOS[*]} " == *" ${s} "* ]] ||
            { echo "tests/guest/run.sh: unknown scenario '${s}' (${ALL_SCENARIOS[*]})" >&2; exit 2; }
    done
    start=${SECONDS}

    QEMU_BIN=${QEMU:-${ROOT}/build/fastio/obj/qemu-system-x86_64}
    if [[ ! -x "${QEMU_BIN}" ]]; then
        result fail "guest: ${QEMU_BIN#"${ROOT}/"} present" "run the build stage first"
        return 0
    fi
    info "QEMU: ${QEMU_BIN}"

    [[ "${FASTIO_GUEST_KERNEL:-}" != backports ]] || build_args+=(--backports)
    if ! GUEST=$("${GUEST_TESTS}/build-initramfs.sh" "${build_args[@]}"); then
        result fail "guest: build the guest kernel and initramfs" "see the messages above"
        return 0
    fi
    kernel=$(cat "${GUEST}/kernel-release")
    info "kernel ${kernel}, ${GUEST}"
    if [[ " ${scenarios[*]} " == *" vfs-mq "* ]]; then
        guest_mq
    fi

    WORK=$(mktemp -d)
    if [[ -d /dev/shm && -w /dev/shm ]]; then
        SHM=$(mktemp -d /dev/shm/fastio-guest.XXXXXX)
    else
        SHM=$(mktemp -d)
        info "no writable /dev/shm; disk images go to ${SHM}"
    fi
    trap cleanup EXIT

    probe_accel
    for s in "${scenarios[@]}"; do
        case "${s}" in
        blk-native) scenario_blk blk-native native ;;
        blk-io_uring) scenario_blk blk-io_uring io_uring ;;
        blk-negative) scenario_blk_negative ;;
        vfs) scenario_vfs_plain ;;
        vfs-mq) scenario_vfs_mq ;;
        vfs-dax) scenario_vfs_dax ;;
        vfs-user) scenario_vfs_user ;;
        esac
    done
    info "${#scenarios[@]} scenario(s) on ${ACCEL_NAME} in $((SECONDS - start)) s"
}

{ main "$@"; exit $?; }
