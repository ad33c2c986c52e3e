#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build the Linux guest of the guest tests from Debian packages: a kernel
# (vmlinuz) and an initramfs holding busybox-static, fio with the shared
# libraries it needs, the virtio/virtiofs/9p modules, our /init (init.sh)
# and the scenarios (scenarios/*.sh).
#
# Packages are fetched with 'apt-get download' from the machine's own apt
# sources and unpacked with 'dpkg-deb -x'; nothing is installed on the host.
# The result goes to ${CACHE}/guest/<key>/ where <key> hashes the package
# versions and this folder's files, so a run whose inputs did not change
# reuses it.  The folder's path is the only thing printed on stdout.
#
# Usage: tests/guest/build-initramfs.sh [--backports] [--force]
#   --backports   take the kernel from <release>-backports instead of
#                 <release> (a newer kernel, for multi-queue virtio-fs)
#   --force       rebuild even if the cached guest is current
# Host tools: apt-get, dpkg-deb, cpio, kmod (depmod), binutils (readelf),
# zstd or gzip, xz-utils (only for a kernel with xz-compressed modules).

set -Eeuo pipefail
trap 'echo "build-initramfs.sh: failed at line ${LINENO}: ${BASH_COMMAND}" >&2' ERR

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
# debian_codename
# shellcheck source=ci/lib.sh
source "${HERE}/../../ci/lib.sh"
readonly CACHE_ROOT=${QEMU_FASTIO_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/qemu-fastio}
readonly GUEST_CACHE=${CACHE_ROOT}/guest
readonly DEB_CACHE=${GUEST_CACHE}/debs
# Kernel modules the guest loads (with their dependencies from modules.dep).
readonly MODULES=(virtio_pci virtio_blk virtiofs fuse 9pnet_virtio 9p)
# Packages whose files go into the initramfs (fio's libraries are added
# as readelf finds them); util-linux for flock(1), which busybox lacks.
readonly USER_PKGS=(busybox-static fio util-linux)
# Guest builds kept in the cache (newest first); older ones are removed.
readonly KEEP_BUILDS=4
# Bump when the layout of the initramfs changes in a way the hashed
# files do not show.
readonly FORMAT=1

BACKPORTS=0
FORCE=0
TMP=""
STAGE=""
declare -A VER=()     # package -> candidate version
declare -A DEBFILE=() # package -> file name of its .deb
declare -A FETCHED=() # package -> 1 once unpacked under ${TMP}/deb/

die() {
    echo "build-initramfs.sh: error: $*" >&2
    exit 1
}

info() {
    echo "build-initramfs.sh: $*" >&2
}

usage() {
    sed -n 's/^# \{0,1\}//; /^Usage:/,/^Host tools/p' "${BASH_SOURCE[0]}" | sed '$d'
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local d
    for d in "${TMP}" "${STAGE}"; do
        [[ -z "${d}" ]] || rm -rf "${d}"
    done
}

codename() {
    debian_codename || die "cannot tell the Debian release from /etc/os-release"
}

# record_packages SPEC...: read name, version and .deb file name of each
# package SPEC (name, name=version or name/release) into VER and DEBFILE.
record_packages() {
    local name ver file
    while read -r name ver file; do
        VER[${name}]=${ver}
        DEBFILE[${name}]=${file##*/}
    done < <(apt-cache show --no-all-versions "$@" 2>/dev/null | awk '
        /^Package:/  { p = $2 }
        /^Version:/  { v = $2 }
        /^Filename:/ { f = $2 }
        /^$/ { if (p != "") print p, v, f; p = ""; v = ""; f = "" }
        END  { if (p != "") print p, v, f }')
}

# The packages fio's dependencies can reach (a superset of what is used;
# their versions go into the cache key, so it is known before any download).
dependency_closure() {
    apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
        --no-breaks --no-replaces --no-enhances "$@" |
        grep -v -e '^ ' -e '^<' | sort -u
}

# kernel_package META: the "name version" of the image package that the
# meta package spec META (linux-image-amd64[/release]) depends on.
kernel_package() {
    local meta="$1" dep
    dep=$(apt-cache show --no-all-versions "${meta}" 2>/dev/null |
        sed -n 's/^Depends: //p' | head -n 1) ||
        true
    [[ -n "${dep}" ]] || die "apt knows no ${meta}"
    # "linux-image-6.1.0-56-amd64 (= 6.1.192-2)[, ...]"
    dep=${dep%%,*}
    [[ "${dep}" =~ ^([^ ]+)\ \(=\ ([^\)]+)\)$ ]] ||
        die "unexpected dependency of ${meta}: ${dep}"
    echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
}

# fetch PKG...: make sure each package's .deb is in DEB_CACHE and unpack it
# into ${TMP}/deb/PKG.
fetch() {
    local pkg want=() part f
    for pkg in "$@"; do
        [[ -n "${VER[${pkg}]:-}" ]] || die "no version known for package ${pkg}"
        [[ -s "${DEB_CACHE}/${DEBFILE[${pkg}]}" ]] || want+=("${pkg}=${VER[${pkg}]}")
    done
    if [[ ${#want[@]} -gt 0 ]]; then
        info "downloading ${want[*]}"
        part=$(mktemp -d "${DEB_CACHE}/.partial.XXXXXX")
        local apt_opts=(-q)
        # As root, apt drops to user _apt, which cannot write to a private
        # folder; the download is checked against the signed index either way.
        [[ ${EUID} -ne 0 ]] || apt_opts+=(-o APT::Sandbox::User=root)
        if ! (cd "${part}" && apt-get "${apt_opts[@]}" download "${want[@]}") >&2; then
            rm -rf "${part}"
            die "apt-get download ${want[*]} failed"
        fi
        # Store each under the archive's file name (apt-get download
        # writes the epoch into its name).
        for f in "${part}"/*.deb; do
            pkg=$(dpkg-deb -f "${f}" Package)
            [[ -n "${DEBFILE[${pkg}]:-}" ]] || die "apt-get download gave an unexpected ${f##*/}"
            mv -f "${f}" "${DEB_CACHE}/${DEBFILE[${pkg}]}"
        done
        rmdir "${part}"
    fi
    for pkg in "$@"; do
        [[ -z "${FETCHED[${pkg}]:-}" ]] || continue
        [[ -s "${DEB_CACHE}/${DEBFILE[${pkg}]}" ]] ||
            die "the download of ${pkg} did not give ${DEBFILE[${pkg}]}"
        mkdir -p "${TMP}/deb/${pkg}"
        dpkg-deb -x "${DEB_CACHE}/${DEBFILE[${pkg}]}" "${TMP}/deb/${pkg}"
        FETCHED[${pkg}]=1
    done
}

# package_depends PKG: the packages PKG depends on (first alternative that
# apt knows, without version constraints), one a line.
package_depends() {
    local field alt name alts
    apt-cache show --no-all-versions "$1=${VER[$1]}" 2>/dev/null |
        sed -n 's/^\(Pre-\)\{0,1\}Depends: //p' | tr ',' '\n' |
        while read -r field; do
            [[ -n "${field}" ]] || continue
            IFS='|' read -r -a alts <<< "${field}"
            for alt in "${alts[@]}"; do
                name=$(echo "${alt}" | sed 's/([^)]*)//; s/:any//; s/[[:space:]]//g')
                if [[ -n "${VER[${name}]:-}" ]]; then
                    echo "${name}"
                    break
                fi
            done
        done
}

# resolve_link ROOT REL: follow symbolic links of REL inside ROOT (absolute
# targets are taken relative to ROOT); print the final path relative to ROOT.
resolve_link() {
    local root="$1" rel="$2" target hops=0
    while [[ -L "${root}/${rel}" ]]; do
        target=$(readlink "${root}/${rel}")
        if [[ "${target}" == /* ]]; then
            rel=${target#/}
        else
            rel=$(dirname "${rel}")/${target}
        fi
        hops=$((hops + 1))
        [[ ${hops} -lt 20 ]] || die "symbolic link loop at ${root}/${rel}"
    done
    echo "${rel}"
}

# find_library SONAME: "PKG REL" of the unpacked package file that provides
# SONAME (REL is the real file, links followed), or nothing.
find_library() {
    local soname="$1" hit pkg rel
    while read -r hit; do
        hit=${hit#"${TMP}/deb/"}
        pkg=${hit%%/*}
        rel=$(resolve_link "${TMP}/deb/${pkg}" "${hit#*/}")
        if [[ -f "${TMP}/deb/${pkg}/${rel}" ]]; then
            echo "${pkg} ${rel}"
            return 0
        fi
    done < <(find "${TMP}/deb" \( -type f -o -type l \) -name "${soname}" \
        \( -path '*/lib/*' -o -path '*/lib64/*' \) | LC_ALL=C sort)
}

# add_elf_closure ROOT PKG REL: copy the shared libraries that the ELF file
# ${TMP}/deb/PKG/REL needs (recursively) into ROOT/lib/x86_64-linux-gnu,
# fetching the .debs that provide them: when a library is missing, the
# library-like dependencies of the package that needs it are fetched first,
# then the rest of them.
add_elf_closure() {
    local root="$1" queue=("$2 $3") item pkg rel soname hit dep lib
    local -A done_so=() owner_of_missing=()
    local missing=() round=0 wanted=() fallback=()
    mkdir -p "${root}/lib/x86_64-linux-gnu"
    while [[ ${#queue[@]} -gt 0 || ${#missing[@]} -gt 0 ]]; do
        while [[ ${#queue[@]} -gt 0 ]]; do
            item=${queue[0]}
            queue=("${queue[@]:1}")
            pkg=${item%% *}
            rel=${item#* }
            while read -r soname; do
                [[ -z "${done_so[${soname}]:-}" ]] || continue
                hit=$(find_library "${soname}")
                if [[ -z "${hit}" ]]; then
                    missing+=("${soname} ${pkg} ${rel}")
                    owner_of_missing[${pkg}]=1
                    continue
                fi
                done_so[${soname}]=1
                lib=${hit#* }
                cp "${TMP}/deb/${hit%% *}/${lib}" "${root}/lib/x86_64-linux-gnu/${soname}"
                echo "${hit%% *}" >> "${TMP}/used-packages"
                queue+=("${hit}")
            done < <(readelf -d "${TMP}/deb/${pkg}/${rel}" |
                sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p')
        done
        [[ ${#missing[@]} -gt 0 ]] || break
        round=$((round + 1))
        [[ ${round} -le 30 ]] || die "library resolution does not converge"
        wanted=()
        fallback=()
        for pkg in "${!owner_of_missing[@]}"; do
            while read -r dep; do
                [[ -z "${FETCHED[${dep}]:-}" ]] || continue
                if [[ "${dep}" == lib* || "${dep}" == zlib* ]]; then
                    wanted+=("${dep}")
                else
                    fallback+=("${dep}")
                fi
            done < <(package_depends "${pkg}")
        done
        [[ ${#wanted[@]} -gt 0 ]] || wanted=("${fallback[@]}")
        if [[ ${#wanted[@]} -eq 0 ]]; then
            die "no package provides $(printf '%s; ' "${missing[@]}")"
        fi
        mapfile -t wanted < <(printf '%s\n' "${wanted[@]}" | sort -u)
        fetch "${wanted[@]}"
        # Look for the missing ones again.
        for item in "${missing[@]}"; do
            queue+=("${item#* }")
        done
        missing=()
        owner_of_missing=()
    done
}

# The interpreter named by ELF file $1 (PT_INTERP), e.g. /lib64/ld-linux-x86-64.so.2.
elf_interpreter() {
    readelf -l "$1" | sed -n 's/.*Requesting program interpreter: \(.*\)\]$/\1/p'
}

# module_load_order MODDIR NAME...: the modules.dep paths to insmod, in order.
module_load_order() {
    local moddir="$1" name line deps i path
    local -A seen=()
    local order=()
    shift
    for name in "$@"; do
        line=$(awk -F: -v n="${name}" '{
                p = $1; sub(/.*\//, "", p); sub(/\.ko(\.(xz|zst|gz))?$/, "", p)
                gsub(/-/, "_", p)
                if (p == n) { print; exit }
            }' "${moddir}/modules.dep")
        if [[ -z "${line}" ]]; then
            if sed 's#.*/##; s/\.ko.*//; s/-/_/g' "${moddir}/modules.builtin" |
                grep -qx -- "${name}"; then
                info "module ${name} is built into the kernel"
                continue
            fi
            die "the kernel has no module ${name}"
        fi
        read -r -a deps <<< "${line#*:}"
        for ((i = ${#deps[@]} - 1; i >= -1; i--)); do
            if [[ ${i} -ge 0 ]]; then path=${deps[i]}; else path=${line%%:*}; fi
            [[ -z "${seen[${path}]:-}" ]] || continue
            seen[${path}]=1
            order+=("${path}")
        done
    done
    printf '%s\n' "${order[@]}"
}

# copy_module SRC DST: copy a module, uncompressed (busybox insmod reads
# plain .ko files).
copy_module() {
    local src="$1" dst="$2"
    mkdir -p "$(dirname "${dst}")"
    case "${src}" in
    *.ko.xz) xz -dc "${src}" > "${dst}" ;;
    *.ko.zst) zstd -q -dc "${src}" > "${dst}" ;;
    *.ko.gz) gzip -dc "${src}" > "${dst}" ;;
    *) cp "${src}" "${dst}" ;;
    esac
}

# prune_cache KEY: keep the newest KEEP_BUILDS guest builds.
prune_cache() {
    local d n=0
    while read -r d; do
        n=$((n + 1))
        [[ ${n} -gt ${KEEP_BUILDS} ]] || continue
        [[ "$(basename "${d}")" != "$1" ]] || continue
        info "removing the old guest build ${d}"
        rm -rf "${d}"
    done < <(find "${GUEST_CACHE}" -mindepth 1 -maxdepth 1 -type d \
        -regextype posix-extended -regex '.*/[0-9a-f]{16}' -printf '%T@ %p\n' |
        sort -rn | cut -d' ' -f2-)
}

build_guest() {
    local out="$1" kpkg="$2" kver_pkg
    local kroot base kver moddir vmlinuz config comp rel dst interp root used order
    root="${TMP}/root"
    kver_pkg=${VER[${kpkg}]}
    mkdir -p "${root}"/{bin,dev,etc/fastio,lib64,mnt,proc,root,run,scenarios,sys,tmp,usr/bin}

    # The kernel and its modules.
    fetch "${kpkg}"
    kroot="${TMP}/deb/${kpkg}"
    vmlinuz=$(find "${kroot}/boot" -maxdepth 1 -name 'vmlinuz-*' | head -n 1)
    [[ -n "${vmlinuz}" ]] || die "${kpkg} ${kver_pkg} has no /boot/vmlinuz-*"
    kver=${vmlinuz##*/vmlinuz-}
    config="${kroot}/boot/config-${kver}"
    if [[ -d "${kroot}/lib/modules/${kver}" ]]; then
        base="${kroot}"
    elif [[ -d "${kroot}/usr/lib/modules/${kver}" ]]; then
        base="${kroot}/usr"
    else
        die "${kpkg} has no modules folder for ${kver}"
    fi
    moddir="${base}/lib/modules/${kver}"
    info "kernel ${kver} (${kpkg} ${kver_pkg}): running depmod"
    depmod -b "${base}" "${kver}"
    : > "${root}/etc/fastio/modules"
    order=$(module_load_order "${moddir}" "${MODULES[@]}")
    while read -r rel; do
        dst=${rel%.xz}
        dst=${dst%.zst}
        dst=${dst%.gz}
        copy_module "${moddir}/${rel}" "${root}/lib/modules/${kver}/${dst}"
        echo "${dst}" >> "${root}/etc/fastio/modules"
    done <<< "${order}"
    for rel in modules.builtin modules.builtin.modinfo modules.order; do
        [[ ! -f "${moddir}/${rel}" ]] || cp "${moddir}/${rel}" "${root}/lib/modules/${kver}/"
    done
    depmod -b "${root}" "${kver}"
    echo "${kver}" > "${root}/etc/fastio/kernel-release"

    # busybox, fio and flock, with their shared libraries.
    fetch "${USER_PKGS[@]}"
    cp "${TMP}/deb/busybox-static/bin/busybox" "${root}/bin/busybox"
    ln -s busybox "${root}/bin/sh"
    cp "${TMP}/deb/fio/usr/bin/fio" "${root}/usr/bin/fio"
    printf '%s\n' "${USER_PKGS[@]}" > "${TMP}/used-packages"
    info "resolving the shared libraries of fio"
    add_elf_closure "${root}" fio usr/bin/fio
    cp "${TMP}/deb/util-linux/usr/bin/flock" "${root}/usr/bin/flock"
    add_elf_closure "${root}" util-linux usr/bin/flock
    interp=$(elf_interpreter "${TMP}/deb/fio/usr/bin/fio")
    [[ -f "${root}/lib/x86_64-linux-gnu/${interp##*/}" ]] ||
        die "the interpreter ${interp} was not among fio's libraries"
    if [[ "${interp}" != "/lib/x86_64-linux-gnu/${interp##*/}" ]]; then
        mkdir -p "${root}$(dirname "${interp}")"
        ln -s "/lib/x86_64-linux-gnu/${interp##*/}" "${root}${interp}"
    fi

    # Our /init and the scenarios.
    install -m 0755 "${HERE}/init.sh" "${root}/init"
    install -m 0644 "${HERE}"/scenarios/*.sh "${root}/scenarios/"

    # Check that fio runs from the new root alone (needs root for chroot).
    if [[ ${EUID} -eq 0 ]]; then
        chroot "${root}" /usr/bin/fio --version >/dev/null ||
            die "fio does not run inside the guest root (a library is missing?)"
        chroot "${root}" /usr/bin/flock --version >/dev/null ||
            die "flock does not run inside the guest root"
    fi

    if grep -qx 'CONFIG_RD_ZSTD=y' "${config}" && command -v zstd >/dev/null; then
        comp=(zstd -q -T0 -10)
    elif grep -qx 'CONFIG_RD_GZIP=y' "${config}"; then
        comp=(gzip -n -6)
    else
        die "the kernel supports neither a zstd nor a gzip initramfs"
    fi
    info "packing the initramfs (${comp[0]})"
    (cd "${root}" && find . -print0 | LC_ALL=C sort -z |
        cpio --null --create --format=newc --owner=0:0 --reproducible --quiet) |
        "${comp[@]}" > "${out}/initramfs.img"
    cp "${vmlinuz}" "${out}/vmlinuz"
    echo "${kver}" > "${out}/kernel-release"

    used=()
    while read -r rel; do
        used+=("${rel} ${VER[${rel}]}")
    done < <(sort -u "${TMP}/used-packages")
    {
        echo "kernel ${kpkg} ${kver_pkg} (${kver})"
        echo "modules $(tr '\n' ' ' < "${root}/etc/fastio/modules")"
        echo "initramfs $(du -k "${out}/initramfs.img" | cut -f1) KiB (${comp[0]})," \
            "unpacked $(du -sk "${root}" | cut -f1) KiB"
        echo "packages in the initramfs:"
        printf '  %s\n' "${used[@]}"
    } > "${out}/manifest.txt"
}

main() {
    local arg release meta kpkg kver_pkg inputs key out f closure=()
    for arg in "$@"; do
        case "${arg}" in
        --backports) BACKPORTS=1 ;;
        --force) FORCE=1 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
        esac
    done
    for f in apt-get apt-cache dpkg-deb cpio depmod readelf flock; do
        command -v "${f}" >/dev/null || die "${f} is missing (see ci/install-deps.sh)"
    done

    release=$(codename)
    meta=linux-image-amd64
    [[ ${BACKPORTS} -eq 0 ]] || meta="linux-image-amd64/${release}-backports"
    read -r kpkg kver_pkg < <(kernel_package "${meta}") ||
        die "apt knows no ${meta}: run apt-get update (or ci/install-deps.sh)"
    [[ -n "${kpkg}" ]] || die "no kernel package found for ${meta}"

    mapfile -t closure < <(dependency_closure "${USER_PKGS[@]}")
    record_packages "${closure[@]}" "${kpkg}=${kver_pkg}"
    for f in "${USER_PKGS[@]}" "${kpkg}"; do
        [[ -n "${VER[${f}]:-}" ]] || die "apt knows no ${f}: run apt-get update"
    done

    inputs=$(
        echo "format ${FORMAT}"
        echo "release ${release}"
        echo "kernel ${kpkg} ${kver_pkg}"
        for f in "${closure[@]}"; do
            echo "package ${f} ${VER[${f}]:-none}"
        done
        cd "${HERE}" && sha256sum build-initramfs.sh init.sh scenarios/*.sh
    )
    key=$(echo "${inputs}" | sha256sum | cut -c1-16)
    out="${GUEST_CACHE}/${key}"

    # One build at a time (bench/ and tests/ may start together); a caller
    # that waited then finds the guest the other one built.
    mkdir -p "${DEB_CACHE}"
    local lock_fd
    exec {lock_fd}> "${GUEST_CACHE}/.lock"
    flock "${lock_fd}"

    if [[ ${FORCE} -eq 0 && -s "${out}/vmlinuz" && -s "${out}/initramfs.img" ]]; then
        touch "${out}"
        info "up to date: ${out} (kernel $(cat "${out}/kernel-release"))"
        echo "${out}"
        return 0
    fi

    TMP=$(mktemp -d)
    trap cleanup EXIT
    STAGE=$(mktemp -d "${GUEST_CACHE}/.build.XXXXXX")
    chmod 0755 "${STAGE}"
    echo "${inputs}" > "${STAGE}/inputs.txt"
    build_guest "${STAGE}" "${kpkg}"
    rm -rf "${out}"
    mv -T "${STAGE}" "${out}"
    STAGE=""
    info "built ${out}: $(sed -n 's/^initramfs //p' "${out}/manifest.txt")"
    prune_cache "${key}"
    echo "${out}"
}

{ main "$@"; exit $?; }
