#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# build.sh's own behaviour, on a scratch copy of the project: a wrong
# tarball, a patch that no longer applies, a missing dependency and a
# dirty or unexported work tree each stop with a message naming the
# cause; export writes back exactly what it read.
# Usage: tests/test-build-sh.sh TARBALL

set -Eeuo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/lib.sh"

tarball=${1:?usage: test-build-sh.sh TARBALL}
tmp=$(mktemp -d)
trap 'rm -rf "${tmp}"' EXIT

# A scratch copy of the project, without its build folder.
scratch() {
    local dir="${tmp}/$1"
    mkdir -p "${dir}"
    cp -r "${ROOT}/build.sh" "${ROOT}/series" "${ROOT}/patches" \
        "${ROOT}/upstream" "${ROOT}/ci" "${dir}/"
    echo "${dir}"
}

# Patch 1 with one context line changed, so that it cannot apply.
broken_patch() {
    local first entries
    # Not 'series_entries | head': under pipefail, sed's SIGPIPE once the
    # series outgrows a pipe write would end the script.
    mapfile -t entries < <(series_entries)
    first=${entries[0]}
    awk '/^@@ / { hunk = 1 }
         hunk && !done && /^ / { $0 = $0 " changed upstream"; done = 1 }
         { print }' "${ROOT}/patches/${first}"
}

main() {
    local p bad first last_group entries
    mapfile -t entries < <(series_entries)

    bad="${tmp}/qemu_10.0.13+ds.orig.tar.xz"
    head -c 4096 /dev/urandom > "${bad}"
    expect_fail "build.sh: a wrong tarball is refused by sha256" \
        "not the pinned upstream tarball.*|sha256 expected" \
        "${ROOT}/build.sh" --source "${bad}" fetch
    expect_fail "build.sh: a missing tarball is named" \
        "nowhere/qemu.*does not exist" \
        "${ROOT}/build.sh" --source "${tmp}/nowhere/qemu.tar.xz" fetch

    p=$(scratch missing-dep)
    expect_fail "build.sh: a missing library is named with its package" \
        "missing dependency: library 'glib-2.0' not found \(Debian package libglib2.0-dev\)" \
        env PKG_CONFIG_LIBDIR="${tmp}/no-pkgconfig" "${p}/build.sh" --no-deps \
        --source "${tarball}" build

    p=$(scratch missing-patch)
    echo "build/9999-not-there.patch" >> "${p}/series"
    expect_fail "build.sh: a series entry without its patch is named" \
        "series names patches/build/9999-not-there.patch" \
        "${p}/build.sh" --no-deps --source "${tarball}" prepare

    p=$(scratch no-fuzz)
    first=${entries[0]}
    broken_patch > "${p}/patches/${first}"
    expect_fail "build.sh: a patch that no longer applies is named" \
        "patch 1/[0-9]+ patches/${first} does not apply" \
        "${p}/build.sh" --no-deps --source "${tarball}" prepare

    p=$(scratch workflow)
    last_group=${entries[-1]%%/*}
    check "build.sh: prepare makes a work tree from the series" \
        "${p}/build.sh" --no-deps --source "${tarball}" prepare
    check "build.sh: export reproduces every patch byte for byte" \
        "${p}/build.sh" export --check
    check "build.sh: a second prepare reuses the tree" \
        grep -q "is up to date" <("${p}/build.sh" --no-deps --source "${tarball}" prepare)
    echo "scratch" >> "${p}/build/fastio/src/README.rst"
    expect_fail "build.sh: a dirty work tree is refused" \
        "uncommitted changes" \
        "${p}/build.sh" --no-deps --source "${tarball}" prepare
    git -C "${p}/build/fastio/src" commit -q -a -s -m "readme: local edit"
    # The series changes under the tree (a patch is edited upstream of us):
    # the local commit must not be lost silently.
    sed -i '$ s/$/\n/' "${p}/patches/${first}"
    expect_fail "build.sh: unexported commits are never dropped" \
        "not in patches/.*build.sh export" \
        "${p}/build.sh" --no-deps --source "${tarball}" prepare
    cp "${ROOT}/patches/${first}" "${p}/patches/${first}"
    check "build.sh: export adds the new commit to the series" \
        "${p}/build.sh" export
    check "build.sh: the exported commit is listed last, in the last group" \
        grep -qx "${last_group}/[0-9]*-readme-local-edit.patch" \
        <(sed -e 's/#.*//' -e '/^$/d' "${p}/series" | tail -n 1)
    check "build.sh: re-export after export changes nothing" \
        "${p}/build.sh" export --check
    check "build.sh: the tree is reused after export" \
        grep -q "is up to date" <("${p}/build.sh" --no-deps --source "${tarball}" prepare)
    check "build.sh: the stock tree applies only the build group" \
        "${p}/build.sh" --no-deps --stock --source "${tarball}" prepare
    check "build.sh: stock has no commit of other groups" \
        test "$(git -C "${p}/build/stock/src" rev-list --count upstream..HEAD)" \
        -eq "$(grep -c '^build/' "${p}/series")"
}

main "$@"
