#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# aio=native never blocks the AioContext: a write that must allocate
# blocks is completed by a worker (trace file_laio_nowait_fallback), with
# its data intact; a write to allocated blocks stays on the libaio path;
# aio=native without cache.direct=on says how to fix it.
# Usage: tests/aio/nowait.sh QEMU_IO

set -Eeuo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

qemu_io=${1:?usage: nowait.sh QEMU_IO}
tmp=$(mktemp -d "${ROOT}/build/aio-test.XXXXXX")
trap 'rm -rf "${tmp}"' EXIT

# qemu-io with aio=native and O_DIRECT, tracing the fallback.
qio() {
    "${qemu_io}" -n -i native -f raw --trace 'file_laio_nowait*' "$@"
}

fallbacks() {
    grep -c '^file_laio_nowait_fallback' "$1" || true
}

main() {
    local img="${tmp}/sparse.img" log="${tmp}/log" fstype
    truncate -s 64M "${img}"
    fstype=$(stat -f -c %T "${tmp}")

    qio -c 'write -P 0xa5 1M 256k' -c 'write -f -P 0x5a 8M 4k' \
        -c 'read -P 0xa5 1M 256k' -c 'read -P 0x5a 8M 4k' \
        "${img}" > "${log}" 2>&1 || true
    check "aio: native writes into holes complete with the right data" \
        bash -c "! grep -qi 'fail\\|error' '${log}' &&
                 [[ \$(grep -c '^read ' '${log}') -eq 2 ]]"
    if [[ "${fstype}" == tmpfs ]]; then
        result skip "aio: an allocating write falls back to a worker" \
            "${tmp} is on tmpfs, which never blocks on allocation"
    else
        check "aio: an allocating write falls back to a worker (${fstype})" \
            test "$(fallbacks "${log}")" -ge 1
    fi

    qio -c 'write -P 0x3c 1M 256k' -c 'read -P 0x3c 1M 256k' \
        "${img}" > "${log}" 2>&1 || true
    check "aio: rewriting allocated blocks stays on libaio" \
        bash -c "[[ \$(grep -c '^file_laio_nowait' '${log}') -eq 0 ]] &&
                 ! grep -qi 'fail\\|error' '${log}' &&
                 grep -q '^read 262144/262144' '${log}'"

    expect_fail "aio: aio=native without cache.direct=on tells the fix" \
        "Add cache.direct=on \(libvirt: cache='none'" \
        "${qemu_io}" -i native -f raw -c 'read 0 4k' "${img}"
}

main "$@"
