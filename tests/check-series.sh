#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Series hygiene: every series entry exists and every patch is listed;
# each patch has a subject, a Signed-off-by and SPDX lines in new files,
# keeps body lines within 76 columns, passes the pinned tree's
# scripts/checkpatch.pl, and the series applies to pristine upstream with
# no fuzz.  Usage: tests/check-series.sh TARBALL

set -Eeuo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/lib.sh"

tarball=${1:?usage: check-series.sh TARBALL}
tmp=$(mktemp -d)
trap 'rm -rf "${tmp}"' EXIT

entries_exist() {
    local e rc=0
    while IFS= read -r e; do
        [[ -f "${ROOT}/patches/${e}" ]] || { echo "series names missing patches/${e}"; rc=1; }
    done < <(series_entries)
    return ${rc}
}

patches_listed() {
    local f rc=0 entries
    # Read the series once: 'series_entries | grep -q' fails under
    # pipefail whenever grep exits before sed has written everything.
    entries=$(series_entries)
    while IFS= read -r f; do
        grep -qxF -- "${f#"${ROOT}"/patches/}" <<<"${entries}" ||
            { echo "${f#"${ROOT}"/} is not listed in series"; rc=1; }
    done < <(find "${ROOT}/patches" -name '*.patch' | sort)
    return ${rc}
}

# Header and message rules for one patch file.
patch_form() {
    local p="$1" rc=0 missing
    grep -q '^Subject: \[PATCH\] [^ ].*' "${p}" || { echo "no 'Subject: [PATCH] ...' header"; rc=1; }
    grep -q '^Signed-off-by: .\+ <.\+@.\+>' "${p}" || { echo "no Signed-off-by:"; rc=1; }
    grep -q '^From 0\{40\} ' "${p}" ||
        { echo "not exported with --zero-commit (use ./build.sh export)"; rc=1; }
    # Message body: between the headers' blank line and the '---' line.
    awk 'NR > 1 && !body && /^$/ { body = 1; next }
         body && /^---$/ { exit }
         body && length($0) > 76 { print "body line over 76 columns: " $0; bad = 1 }
         END { exit bad }' "${p}" || rc=1
    # New C, header, shell and Python files carry an SPDX line.
    missing=$(awk '
        /^diff --git / { file = $4; sub(/^b\//, "", file); isnew = 0 }
        /^new file mode/ { isnew = 1; want[file] = 1 }
        /^\+.*SPDX-License-Identifier:/ { has[file] = 1 }
        END { for (f in want) if (!(f in has) && f ~ /\.(c|h|sh|py|rs)$/) print f }' "${p}")
    if [[ -n "${missing}" ]]; then
        echo "new files without SPDX-License-Identifier: ${missing}"
        rc=1
    fi
    return ${rc}
}

checkpatch() {
    (cd "${tmp}/qemu" && perl "${tmp}/checkpatch.pl" --terse --no-tree "$1")
}

main() {
    local e n=0 count
    check "series: every entry exists" entries_exist
    check "series: every patch is listed" patches_listed

    tar --no-same-owner -C "${tmp}" -xf "${tarball}"
    mv "${tmp}"/qemu-* "${tmp}/qemu"
    cp "${tmp}/qemu/scripts/checkpatch.pl" "${tmp}/checkpatch.pl"

    count=$(series_entries | wc -l)
    while IFS= read -r e; do
        n=$((n + 1))
        [[ -f "${ROOT}/patches/${e}" ]] || continue
        check "patch ${n}/${count} ${e}: form" patch_form "${ROOT}/patches/${e}"
        check "patch ${n}/${count} ${e}: checkpatch" checkpatch "${ROOT}/patches/${e}"
        check "patch ${n}/${count} ${e}: applies with no fuzz" \
            git -C "${tmp}/qemu" apply --whitespace=nowarn "${ROOT}/patches/${e}"
    done < <(series_entries)
}

main "$@"
