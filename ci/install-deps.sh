#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Install what qemu-fastio needs to build and test, from Debian only.
#
# meson >= 1.5 and python3-pycotap are not in Debian 12 itself; they come
# from bookworm-backports.  The backports entry is derived from the mirror
# the machine already uses, so no registry host is written anywhere here.
#
# Usage: ci/install-deps.sh [--check] [--bench] [--tests]
#   --check   only report what is missing, install nothing (exit 1 if any)
#   --bench   also what bench/ needs (host fio, matplotlib for the chart)
#   --tests   also what the unit, guest and libvirt test stages need
#             (tests/run.sh runs this as root)

set -Eeuo pipefail
trap 'echo "install-deps: failed at line ${LINENO}: ${BASH_COMMAND}" >&2' ERR

# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Packages, by purpose: what the build needs is BUILD_DEPS in ci/lib.sh.
readonly BENCH_PKGS=(fio python3-matplotlib)
# The guest and libvirt test stages: the guest builder's tools, and
# Debian's libvirt daemon; clang with its libFuzzer/ASan/UBSan runtime for
# tests/fuzz/run.sh; attr (getfattr/setfattr) for the vfs scenario's
# mapped-xattr checks; certtool and libnbd's Python bindings, without
# which upstream's qemu-iotests skip their TLS and NBD cases.
readonly TEST_PKGS=(cpio kmod binutils zstd xz-utils util-linux
    libvirt-daemon-system libvirt-clients clang-14 libclang-rt-14-dev attr
    gnutls-bin python3-libnbd)
readonly BACKPORT_PKGS=(meson python3-pycotap)

die() {
    echo "install-deps: $*" >&2
    exit 1
}

codename() {
    debian_codename || die "cannot tell the Debian release from /etc/os-release"
}

have_pkg() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

meson_ok() {
    command -v meson >/dev/null 2>&1 &&
        dpkg --compare-versions "$(meson --version)" ge "${MIN_MESON}" &&
        /usr/bin/python3 -c 'import pycotap' 2>/dev/null
}

missing_pkgs() {
    local p deps
    mapfile -t deps < <(build_dep_packages)
    for p in "${deps[@]}" "${EXTRA_PKGS[@]}"; do
        have_pkg "${p}" || echo "${p}"
    done
}

ensure_backports() {
    local rel="$1" suite="$1-backports" uri list
    list=/etc/apt/sources.list.d/qemu-fastio-${suite}.sources
    if [[ -n "$(apt_mirror "${suite}")" ]]; then
        return 0
    fi
    uri=$(apt_mirror "${rel}")
    [[ -n "${uri}" ]] ||
        die "no apt source serves '${rel}'; cannot derive a mirror for ${suite}"
    echo "install-deps: adding ${suite} from the mirror already configured for ${rel}"
    cat > "${list}" <<SOURCES
Types: deb
URIs: ${uri}
Suites: ${suite}
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
}

EXTRA_PKGS=()

main() {
    local check=0 rel arg
    for arg in "$@"; do
        case "${arg}" in
        --check) check=1 ;;
        --bench) EXTRA_PKGS+=("${BENCH_PKGS[@]}") ;;
        --tests) EXTRA_PKGS+=("${TEST_PKGS[@]}") ;;
        *) die "unknown argument '${arg}' (--check, --bench, --tests)" ;;
        esac
    done

    mapfile -t missing < <(missing_pkgs)
    if [[ ${#missing[@]} -eq 0 ]] && meson_ok; then
        echo "install-deps: all dependencies present"
        return 0
    fi
    if [[ ${check} -eq 1 ]]; then
        [[ ${#missing[@]} -eq 0 ]] || echo "install-deps: missing: ${missing[*]}" >&2
        meson_ok || echo "install-deps: missing: meson >= ${MIN_MESON} with python3-pycotap" >&2
        exit 1
    fi
    [[ ${EUID} -eq 0 ]] ||
        die "missing packages (${missing[*]:-meson/pycotap}); run this script as root"

    rel=$(codename)
    export DEBIAN_FRONTEND=noninteractive
    if ! meson_ok; then
        case "${rel}" in
        bookworm) ensure_backports "${rel}" ;;
        *) ;; # newer releases ship meson >= 1.5 in their main suite
        esac
    fi
    apt-get update -q
    if [[ ${#missing[@]} -gt 0 ]]; then
        apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
    if ! meson_ok; then
        if [[ "${rel}" == bookworm ]]; then
            apt-get install -y -q --no-install-recommends \
                -t bookworm-backports "${BACKPORT_PKGS[@]}"
        else
            apt-get install -y -q --no-install-recommends "${BACKPORT_PKGS[@]}"
        fi
    fi
    meson_ok || die "meson >= ${MIN_MESON} with python3-pycotap still missing after install"
    echo "install-deps: done"
}

{ main "$@"; exit $?; }
