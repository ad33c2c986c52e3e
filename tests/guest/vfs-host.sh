# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# Host side of the vfs guest scenario (scenarios/vfs.sh), shared by
# tests/guest/run.sh and tests/libvirt/run.sh (sourced, after tests/lib.sh).
#
#   vfs_prepare ROOT EXPECT   fill ROOT/share (the virtio-fs source) and
#                             ROOT/outside (a sibling the guest must never
#                             reach); EXPECT, a folder outside ROOT, gets
#                             what the guest's files must contain.  Sets
#                             VFS_SHARE and VFS_APPEND (kernel arguments).
#   vfs_unprivileged_user, vfs_user_copy DIR QEMU GUEST
#                             for runs of QEMU as an unprivileged user
#   vfs_check PREFIX OUTCOME [nofio]
#                             after the guest powered off: one result per
#                             check, titled "PREFIX: ..."; OUTCOME is the
#                             guest's verdict (PASS or anything else).
# The device must run with security-model=mapped-xattr, as the user that
# runs these checks or as VFS_OWNER (uid:gid), who then owns the share:
# the host files must stay owned by QEMU's user.
# Needs getfattr and setfattr (package attr).

readonly VFS_TAG=fastiofs
# The mtime of every file in the tarball (scenarios/vfs.sh: TAR_MTIME).
readonly VFS_TAR_MTIME=1700000000
# The size of host/rand-src, from which the guest composes guest/compose.
readonly VFS_SRC_BYTES=$((1 << 20))

VFS_ROOT=""
VFS_SHARE=""
VFS_EXPECT=""
VFS_APPEND=""
VFS_SEED=""
VFS_REASON=""
VFS_ERRORS=()
VFS_FAILED=0   # failed checks of the last vfs_check

# The user libvirt's system instance runs QEMU as on Debian, else nobody.
vfs_unprivileged_user() {
    if id libvirt-qemu >/dev/null 2>&1; then
        echo libvirt-qemu
    else
        echo nobody
    fi
}

# vfs_user_copy DIR QEMU GUEST: QEMU, the firmware it loads to boot the
# guest (DIR/fw, for -L) and GUEST's kernel and initramfs in DIR, readable
# by anybody: the build tree and the guest cache may be in folders that an
# unprivileged user cannot enter (root's home).  VFS_REASON on failure.
vfs_user_copy() {
    local dir="$1" qemu="$2" guest="$3" f src d
    mkdir -p "${dir}/fw"
    cp "${qemu}" "${dir}/qemu-system-x86_64"
    cp "${guest}/vmlinuz" "${guest}/initramfs.img" "${dir}/"
    for f in bios-256k.bin linuxboot_dma.bin kvmvapic.bin; do
        src=""
        while read -r d; do
            [[ -e "${d}/${f}" ]] && { src="${d}/${f}"; break; }
        done < <("${qemu}" -L help)
        [[ -n "${src}" ]] || { VFS_REASON="QEMU's data folders have no ${f}"; return 1; }
        cp -L "${src}" "${dir}/fw/${f}"
    done
    chmod -R a+rX "${dir}"
}

# Which tool the host checks need is not installed, or nothing: a failure,
# since ci/install-deps.sh --tests installs them.
vfs_not_installed() {
    local t
    for t in getfattr setfattr sha256sum gzip awk; do
        command -v "${t}" >/dev/null 2>&1 ||
            { echo "${t} is missing (ci/install-deps.sh --tests)"; return; }
    done
}

# vfs_outside_state: what the checks compare of everything in VFS_ROOT but
# the share (stat, times including access, extended attributes).
vfs_outside_state() {
    find "${VFS_ROOT}" -path "${VFS_SHARE}" -prune -o \
        -printf '%P %y %m %U %G %n %s %i %T@ %C@ %A@ %l\n' | LC_ALL=C sort
    getfattr --absolute-names -h -R -d -m - -e hex "${VFS_ROOT}/outside" 2>&1 |
        sed "s|${VFS_ROOT}/||"
    getfattr --absolute-names -h -d -m - -e hex "${VFS_ROOT}" 2>&1 |
        sed "s|${VFS_ROOT}|ROOT|"
}

# vfs_compose_ops: the operations that build guest/compose (from VFS_SEED).
vfs_compose_ops() {
    local i bs max count skip sizes=(1 512 4096 65536 131072)
    RANDOM=${VFS_SEED}
    for ((i = 0; i < 14; i++)); do
        if [[ ${i} -eq 6 ]]; then
            echo "truncate $((9 * 1048576 + RANDOM % 4096))"
            continue
        elif [[ ${i} -eq 11 ]]; then
            echo "truncate $((3 * 1048576 + RANDOM))"
            continue
        fi
        bs=${sizes[RANDOM % ${#sizes[@]}]}
        max=$((VFS_SRC_BYTES / bs))
        count=$((1 + RANDOM % (max < 40 ? max : 40)))
        skip=$((RANDOM % (max - count + 1)))
        echo "dd ${bs} ${count} ${skip} $((RANDOM % (8 * 1048576 / bs)))"
    done
}

# vfs_tarball DIR: make DIR/tree (what the guest untars) and
# host/tree.tar.gz from it.
vfs_tarball() {
    local dir="$1" t="$1/tree" d f
    mkdir -p "${t}/deep/1/2/3/4/5/6/7/8" "${t}/bin" "${t}/empty"
    for ((d = 0; d < 12; d++)); do
        mkdir -p "${t}/$(printf 'd%02d' "${d}")"
        for ((f = 0; f < 10; f++)); do
            {
                printf 'tree d%02d f%02d seed %s\n' "${d}" "${f}" "${VFS_SEED}"
                head -c $(((d * 10 + f) * 97 % 3000)) /dev/urandom
            } > "${t}/$(printf 'd%02d/f%02d' "${d}" "${f}")"
        done
    done
    echo deep > "${t}/deep/1/2/3/4/5/6/7/8/deep.txt"
    printf '#!/bin/sh\necho run\n' > "${t}/bin/run.sh"
    chmod 0755 "${t}/bin/run.sh"
    echo private > "${t}/private"
    chmod 0600 "${t}/private"
    echo space > "${t}/with space.txt"
    echo long > "${t}/$(printf 'long%.0s' {1..50})"
    ln -s d00/f00 "${t}/link"
    ln "${t}/d00/f01" "${t}/hardlink"
    (cd "${t}" && find . -type f -printf '%P\n' | LC_ALL=C sort |
        xargs -d '\n' sha256sum) > "${dir}/SHA256SUMS"
    mv "${dir}/SHA256SUMS" "${t}/SHA256SUMS"
    tar -C "${dir}" --owner=0 --group=0 --numeric-owner --sort=name \
        --mtime="@${VFS_TAR_MTIME}" -czf "${VFS_SHARE}/host/tree.tar.gz" tree
}

# vfs_prepare ROOT EXPECT
vfs_prepare() {
    local h f i lines
    VFS_ROOT="$1"
    VFS_EXPECT="$2"
    VFS_SHARE="${VFS_ROOT}/share"
    VFS_SEED=${FASTIO_VFS_SEED:-$((RANDOM * 32768 + RANDOM))}
    h="${VFS_SHARE}/host"
    mkdir -p "${h}" "${VFS_ROOT}/outside/dir" "${VFS_EXPECT}"
    if ! setfattr -n user.fastio.probe -v 1 "${VFS_ROOT}/outside" 2>/dev/null; then
        # shellcheck disable=SC2034 # read by the caller
        VFS_REASON="${VFS_ROOT%/*} has no user.* extended attributes (needed by mapped-xattr)"
        return 1
    fi
    setfattr -x user.fastio.probe "${VFS_ROOT}/outside"
    echo "secret outside the share" > "${VFS_ROOT}/outside/secret"
    echo "also outside" > "${VFS_ROOT}/outside/dir/file"
    setfattr -n user.virtfs.uid -v 0x39050000 "${VFS_ROOT}/outside/secret"

    # The host's files, of awkward sizes.
    head -c "${VFS_SRC_BYTES}" /dev/urandom > "${h}/rand-src"
    for i in 0 1 4095 4096 4097 $((3 * 1048576 + 13)); do
        head -c "${i}" /dev/urandom > "${h}/rand-${i}"
    done
    echo "a name with spaces" > "${h}/name with spaces"
    cat > "${h}/pattern.awk" <<'EOF'
# Line i of the guest's file FILE for SEED (awk -v seed= -v file= -v lines=).
BEGIN {
    chars = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for (i = 0; i < lines; i++)
        printf "fastio-vfs seed %s file %s line %08d %s\n", seed, file, i,
            substr(chars, 1 + (i * 7) % 62)
}
EOF
    vfs_compose_ops > "${h}/COMPOSE"
    vfs_tarball "${VFS_EXPECT}"
    (cd "${h}" && find . -type f -printf '%P\n' | LC_ALL=C sort |
        xargs -d '\n' sha256sum > "${VFS_EXPECT}/MANIFEST")
    mv "${VFS_EXPECT}/MANIFEST" "${h}/MANIFEST"

    # What the guest's files must contain (scenarios/vfs.sh, step 3).
    i=0
    for lines in 0 1 3000 30000; do
        awk -v seed="${VFS_SEED}" -v file="${i}" -v lines="${lines}" \
            -f "${h}/pattern.awk" > "${VFS_EXPECT}/pat-${i}"
        i=$((i + 1))
    done
    : > "${VFS_EXPECT}/compose"
    while read -r f a b c d; do
        case "${f}" in
        dd) dd if="${h}/rand-src" of="${VFS_EXPECT}/compose" bs="${a}" count="${b}" \
            skip="${c}" seek="${d}" conv=notrunc status=none ;;
        truncate) truncate -s "${a}" "${VFS_EXPECT}/compose" ;;
        esac
    done < "${h}/COMPOSE"
    seq 1 50 | sed 's/^/append /' > "${VFS_EXPECT}/append"

    # Once for the folders' access times (relatime), then for keeps.
    vfs_outside_state > /dev/null
    vfs_outside_state > "${VFS_EXPECT}/outside.before"
    VFS_APPEND="fastio.vfs.tag=${VFS_TAG} fastio.vfs.seed=${VFS_SEED}"
    VFS_APPEND+=" fastio.vfs.manifest=$(sha256sum < "${h}/MANIFEST" | cut -d' ' -f1)"
}

# vfs_dump FILE: a listing of the share with its xattrs, for the logs.
vfs_dump() {
    {
        echo "seed ${VFS_SEED}"
        (cd "${VFS_SHARE}" && find . -printf '%M %U:%G %n %s %P\n')
        getfattr -h -R -d -m - -e hex "${VFS_SHARE}/guest" 2>&1
        cat "${VFS_EXPECT}/outside.diff" 2>/dev/null
    } > "$1" || true
}

# vfs_xattr FILE NAME: the little-endian number in xattr NAME, or "none".
vfs_xattr() {
    local hex v="" i
    hex=$({ getfattr --absolute-names -h -n "$2" -e hex "$1" 2>/dev/null || true; } |
        sed -n "s/^$2=0x//p")
    if [[ -z "${hex}" ]]; then
        echo none
        return 0
    fi
    for ((i = ${#hex} - 2; i >= 0; i -= 2)); do
        v+=${hex:i:2}
    done
    echo $((16#${v}))
}

# vfs_mapped FILE: "uid gid mode(octal) rdev" from the user.virtfs.* xattrs.
vfs_mapped() {
    local uid gid mode rdev
    uid=$(vfs_xattr "$1" user.virtfs.uid)
    gid=$(vfs_xattr "$1" user.virtfs.gid)
    mode=$(vfs_xattr "$1" user.virtfs.mode)
    [[ "${mode}" == none ]] || mode=$(printf '%o' "${mode}")
    rdev=$(vfs_xattr "$1" user.virtfs.rdev)
    echo "${uid} ${gid} ${mode} ${rdev}"
}

# vfs_want WHAT GOT WANT: note a difference in VFS_ERRORS.
vfs_want() {
    [[ "$2" == "$3" ]] || VFS_ERRORS+=("$1: got '$2', want '$3'")
}

# vfs_report TITLE: one result from VFS_ERRORS (then cleared).
vfs_report() {
    if [[ ${#VFS_ERRORS[@]} -eq 0 ]]; then
        result pass "$1"
    else
        result fail "$1" "${VFS_ERRORS[0]}"
        printf '    | %s\n' "${VFS_ERRORS[@]:0:20}"
        VFS_FAILED=$((VFS_FAILED + 1))
    fi
    VFS_ERRORS=()
}

vfs_check_outside() {
    vfs_outside_state > "${VFS_EXPECT}/outside.after"
    if ! diff -u "${VFS_EXPECT}/outside.before" "${VFS_EXPECT}/outside.after" \
        > "${VFS_EXPECT}/outside.diff"; then
        VFS_ERRORS+=("files outside the share changed (stat, atime or xattrs)")
        while read -r line; do
            VFS_ERRORS+=("${line}")
        done < <(grep '^[-+][^-+]' "${VFS_EXPECT}/outside.diff" | head -n 10 || true)
    fi
}

vfs_check_data() {
    local g="${VFS_SHARE}/guest" f want="$1"
    for f in pat-0 pat-1 pat-2 pat-3 compose append; do
        if [[ ! -f "${g}/${f}" ]]; then
            VFS_ERRORS+=("guest/${f} is missing on the host")
        else
            vfs_want "sha256 of guest/${f}" \
                "$(sha256sum < "${g}/${f}" | cut -d' ' -f1)" \
                "$(sha256sum < "${VFS_EXPECT}/${f}" | cut -d' ' -f1)"
        fi
    done
    if [[ "${want}" != nofio ]]; then
        for f in psync libaio; do
            vfs_want "size of guest/fio/${f}.dat" \
                "$(stat -c %s "${g}/fio/${f}.dat" 2>&1)" $((4 << 20))
        done
    fi
    (cd "${VFS_SHARE}/host" && sha256sum -c --quiet MANIFEST) >/dev/null 2>&1 ||
        VFS_ERRORS+=("the host's own files in host/ changed")
}

vfs_check_tree() {
    local t="${VFS_SHARE}/guest/tree" got want i
    got=$(cd "${t}" && find . -mindepth 1 -printf '%P %y\n' | LC_ALL=C sort)
    want=$(
        {
            echo "moved d"
            echo "c-up d"
            echo "c-up/d d"
            echo "moved/f1 f"
            for i in $(seq 3 40); do echo "moved/f${i} f"; done
            for i in $(seq 1 40); do echo "c-up/f${i} f"; echo "c-up/d/f${i} f"; done
        } | LC_ALL=C sort
    )
    if [[ "${got}" != "${want}" ]]; then
        VFS_ERRORS+=("guest/tree differs from the expected listing")
        while read -r line; do
            VFS_ERRORS+=("${line}")
        done < <(diff <(echo "${want}") <(echo "${got}") | grep '^[<>]' | head -n 10 || true)
    else
        vfs_want "guest/tree/moved/f1" "$(cat "${t}/moved/f1")" "a 2"
        for i in $(seq 3 40); do
            vfs_want "guest/tree/moved/f${i}" "$(cat "${t}/moved/f${i}")" "a ${i}"
        done
        for i in $(seq 1 40); do
            vfs_want "guest/tree/c-up/f${i}" "$(cat "${t}/c-up/f${i}")" "a/b/c ${i}"
            vfs_want "guest/tree/c-up/d/f${i}" "$(cat "${t}/c-up/d/f${i}")" "a/b/c/d ${i}"
        done
    fi
    [[ ! -e "${VFS_SHARE}/guest/untar" ]] ||
        VFS_ERRORS+=("guest/untar is still on the host after rm -rf")
}

vfs_check_mapped() {
    local p="${VFS_SHARE}/guest/perm" uid gid bad
    # QEMU's user, who owns the share (VFS_OWNER=uid:gid, default: us)
    uid=${VFS_OWNER:-$(id -u):$(id -g)}
    gid=${uid#*:}
    uid=${uid%%:*}
    # No real ownership, mode, symlink or special file from the guest.
    bad=$(find "${VFS_SHARE}/guest" \( ! -uid "${uid}" -o ! -gid "${gid}" \) -printf '%P ')
    [[ -z "${bad}" ]] || VFS_ERRORS+=("not owned by ${uid}:${gid} on the host: ${bad}")
    bad=$(find "${VFS_SHARE}/guest" ! -type f ! -type d -printf '%P(%y) ')
    [[ -z "${bad}" ]] || VFS_ERRORS+=("neither file nor folder on the host: ${bad}")
    bad=$(find "${VFS_SHARE}/guest" \( -type f ! -perm 0600 \) -printf '%P(%m) ' -o \
        \( -type d ! -perm 0700 \) -printf '%P(%m) ')
    [[ -z "${bad}" ]] || VFS_ERRORS+=("host mode not 0600 (files) / 0700 (folders): ${bad}")
    bad=$(find "${VFS_SHARE}/guest" -exec sh -c \
        'getfattr -h -n user.virtfs.mode "$1" >/dev/null 2>&1 || printf "%s " "$1"' _ {} \;)
    [[ -z "${bad}" ]] || VFS_ERRORS+=("no user.virtfs.mode: ${bad//${VFS_SHARE}\//}")

    # The guest's ownership, modes and types, in the xattrs only.
    vfs_want "perm/own xattrs (uid gid mode rdev)" "$(vfs_mapped "${p}/own")" "1234 5678 104751 none"
    vfs_want "perm/own host owner" "$(stat -c '%u %g %h' "${p}/own")" "${uid} ${gid} 2"
    vfs_want "perm/hard inode" "$(stat -c %i "${p}/hard")" "$(stat -c %i "${p}/own")"
    vfs_want "perm/own content" "$(cat "${p}/own")" $'data\nmore'
    vfs_want "perm/plain xattrs" "$(vfs_mapped "${p}/plain")" "0 0 100644 none"
    vfs_want "perm/dir xattrs" "$(vfs_mapped "${p}/dir")" "42 43 41777 none"
    vfs_want "perm/sym xattrs" "$(vfs_mapped "${p}/sym")" "77 88 120777 none"
    vfs_want "perm/sym host file" "$(stat -c '%F %s' "${p}/sym")" "regular file 11"
    vfs_want "perm/sym content" "$(cat "${p}/sym")" "../perm/own"
    vfs_want "perm/fifo xattrs" "$(vfs_mapped "${p}/fifo")" "0 0 10640 none"
    vfs_want "perm/fifo host file" "$(stat -c '%F' "${p}/fifo")" "regular empty file"
    vfs_want "perm/null xattrs" "$(vfs_mapped "${p}/null")" "0 0 20644 259"
    vfs_want "perm/null host file" "$(stat -c '%F' "${p}/null")" "regular empty file"
}

# vfs_check PREFIX OUTCOME [nofio]
vfs_check() {
    local prefix="$1" outcome="$2" what="${3:-}" t
    VFS_FAILED=0
    vfs_check_outside
    vfs_report "${prefix}: nothing outside the share was read, written or changed"
    for t in "the guest's files read back identical on the host (sha256)" \
        "the tree the guest made, renamed, untarred and removed is right on the host" \
        "mapped-xattr: guest ownership, modes and file types only in user.virtfs.*"; do
        if [[ "${outcome}" != PASS ]]; then
            result skip "${prefix}: ${t}" "the guest part failed"
            continue
        fi
        case "${t}" in
        *sha256*) vfs_check_data "${what}" ;;
        *tree*) vfs_check_tree ;;
        *mapped*) vfs_check_mapped ;;
        esac
        vfs_report "${prefix}: ${t}"
    done
}
