# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# shellcheck disable=SC2034 # the names are for the scripts that source this
#
# What build.sh, ci/, tests/ and bench/ share: the pinned upstream's names,
# the series file, the build's Debian packages and the machine's apt
# sources.  Source it; it sets no shell options.

[[ -z "${FASTIO_CI_LIB:-}" ]] || return 0
FASTIO_CI_LIB=1

FASTIO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly FASTIO_ROOT

# The pinned upstream: QEMU's version, the Debian source package whose orig
# tarball it is, and that tarball's name (upstream/qemu.hash: its sha256).
readonly QEMU_VERSION=10.0.13
readonly DEBIAN_VERSION=1:10.0.13+ds-0+deb13u1
readonly TARBALL=qemu_${QEMU_VERSION}+ds.orig.tar.xz

# What the build needs: one Debian package a line, then what shows that it
# is usable, if anything: cmd:NAME (a command), pc:NAME (a pkg-config
# module), file:PATH[|PATH...] (a file).  ci/install-deps.sh installs the
# packages; build.sh's preflight checks the rest and names the package.
# meson >= 1.5 and python3-pycotap come apart (bookworm-backports).
readonly BUILD_DEPS=(
    "build-essential cmd:cc cmd:make cmd:objcopy cmd:ld"
    "ninja-build cmd:ninja"
    "pkgconf cmd:pkg-config"
    "git cmd:git"
    "ccache"
    "bzip2 cmd:bzip2"
    "perl cmd:perl"
    "python3"
    "python3-venv"
    "libglib2.0-dev pc:glib-2.0"
    "libpixman-1-dev pc:pixman-1"
    "zlib1g-dev pc:zlib"
    "libfdt-dev file:/usr/include/libfdt.h"
    "libaio-dev file:/usr/include/libaio.h"
    "liburing-dev pc:liburing"
    "libseccomp-dev pc:libseccomp"
    "libcap-ng-dev pc:libcap-ng"
    "libattr1-dev file:/usr/include/attr/attributes.h|/usr/include/attr/libattr.h"
    "seabios file:/usr/share/seabios/bios-256k.bin"
    "ipxe-qemu file:/usr/lib/ipxe/qemu/efi-virtio.rom"
)
readonly MIN_MESON=1.5.0

# build_dep_packages: the package names of BUILD_DEPS, one a line.
build_dep_packages() {
    local line
    for line in "${BUILD_DEPS[@]}"; do
        echo "${line%% *}"
    done
}

# The series entries, one a line (paths relative to patches/), in order.
series_entries() {
    sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "${FASTIO_ROOT}/series"
}

# The Debian release's code name (bookworm...), or nothing and status 1.
debian_codename() {
    local c=""
    # shellcheck disable=SC1091
    c=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    [[ -n "${c}" ]] && echo "${c}"
}

# Print "URI SUITE" for every binary archive the machine's apt sources name
# (one-line .list files, then deb822 .sources files; disabled stanzas are
# left out).
apt_archives() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -r "${f}" ]] || continue
        awk '$1 == "deb" { i = 2
                if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                print $i, $(i + 1) }' "${f}"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -r "${f}" ]] || continue
        awk 'function flush(  n, m, u, s, i, j) {
                 if (types ~ /(^| )deb( |$)/ && enabled != "no") {
                     n = split(uris, u, " "); m = split(suites, s, " ")
                     for (i = 1; i <= n; i++) for (j = 1; j <= m; j++) print u[i], s[j]
                 }
                 types = ""; uris = ""; suites = ""; enabled = "" }
             /^[ \t]*$/   { flush(); next }
             /^Types:/    { sub(/^Types:[ \t]*/, "");    types = $0 }
             /^URIs:/     { sub(/^URIs:[ \t]*/, "");     uris = $0 }
             /^Suites:/   { sub(/^Suites:[ \t]*/, "");   suites = $0 }
             /^Enabled:/  { sub(/^Enabled:[ \t]*/, "");  enabled = tolower($0) }
             END { flush() }' "${f}"
    done
}

# apt_mirror SUITE: the URI of the first archive that serves SUITE, or
# nothing.
apt_mirror() {
    apt_archives | awk -v s="$1" '$2 == s { print $1; exit }'
}
