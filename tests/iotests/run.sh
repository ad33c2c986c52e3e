#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Upstream's block tests (tests/qemu-iotests, the 'quick' group) against
# the fastio build, for raw and qcow2 images with aio=native (O_DIRECT)
# and aio=io_uring.  Every test is one result line.  A test that fails
# is excused only when tests/iotests/known-failures lists it with a
# reason and the stock build of the same tarball fails it too (checked
# here, by running that test again with the stock build); any other
# failure fails the stage.
#
# Usage: tests/iotests/run.sh [CONFIG...]
#   CONFIG: raw/native raw/io_uring qcow2/native qcow2/io_uring (default:
#   all four); TESTS="044 185" limits the run to those tests.

set -Eeuo pipefail
trap 'echo "tests/iotests/run.sh: failed at line ${LINENO}: ${BASH_COMMAND}" >&2' ERR
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

readonly ALL_CONFIGS=(raw/native raw/io_uring qcow2/native qcow2/io_uring)
readonly KNOWN="${TESTS_DIR}/iotests/known-failures"

# check_args CONFIG: the arguments of upstream's 'check' for CONFIG.
check_args() {
    local fmt="${1%/*}" aio="${1#*/}"
    printf '%s\n' "-${fmt}" -i "${aio}"
    # aio=native needs O_DIRECT; io_uring runs with the default writeback
    # cache, where requests complete during submission.
    if [[ "${aio}" == native ]]; then
        printf '%s\n' -nocache
    fi
}

# known_reason CONFIG TEST: the reason a known failure is excused, if any.
known_reason() {
    local config="$1" test="$2" c t reason
    while read -r c t reason; do
        [[ -z "${c}" || "${c}" == \#* ]] && continue
        if [[ "${t}" == "${test}" ]] &&
            [[ "${c}" == '*' || "${c}" == "${config}" ||
               "${c}" == "${config%/*}/*" || "${c}" == "*/${config#*/}" ]]; then
            echo "${reason}"
            return 0
        fi
    done < "${KNOWN}"
    return 1
}

# run_check VARIANT CONFIG LOG [TEST...]: run upstream's check from the
# build folder of VARIANT (fastio or stock); TAP on stdout, diffs in LOG.
run_check() {
    local variant="$1" config="$2" log="$3" scratch sock
    shift 3
    local iotests="${ROOT}/build/${variant}/obj/tests/qemu-iotests"
    local args
    mapfile -t args < <(check_args "${config}")
    scratch="${WORK}/${variant}-${config/\//-}"
    sock="${SOCKS}/${variant:0:1}-${config/\//-}"
    rm -rf "${scratch}" "${sock}"
    mkdir -p "${scratch}/test" "${sock}"
    if [[ $# -eq 0 ]]; then
        set -- -g quick
    fi
    (cd "${iotests}" &&
        TEST_DIR="${scratch}/test" SOCK_DIR="${sock}" \
            ./check -tap "${args[@]}" "$@" 2>"${log}") || true
}

run_config() {
    local config="$1" log tap line test reason stock_log stock_tap
    local failed=() notrun=0 t
    log="${LOGS}/${config/\//-}.log"
    tap=$(run_check fastio "${config}" "${log}" ${TESTS:-})
    printf '%s\n' "${tap}" > "${LOGS}/${config/\//-}.tap"
    while read -r line; do
        case "${line}" in
        "ok "*"# SKIP"*)
            # The test itself says it does not apply (another image
            # format, cache mode or protocol; see the .notrun files).
            notrun=$((notrun + 1)) ;;
        "ok "*)
            test=$(awk '{print $3}' <<<"${line}")
            result pass "iotests ${config}: ${test}" ;;
        "not ok "*)
            test=$(awk '{print $4}' <<<"${line}")
            failed+=("${test}") ;;
        esac
    done <<<"${tap}"
    if ! grep -q '^1\.\.' <<<"${tap}"; then
        result fail "iotests ${config}: check ran" "no TAP plan; see ${log}"
        tail -n 20 "${log}" | sed 's/^/    | /'
        return 0
    fi

    echo "note    iotests ${config}: ${notrun} tests do not apply to this configuration"
    for t in "${failed[@]}"; do
        if ! reason=$(known_reason "${config}" "${t}"); then
            result fail "iotests ${config}: ${t}" "new failure; see ${log}"
            continue
        fi
        # Excused only if the stock build fails it as well.
        stock_log="${LOGS}/${config/\//-}-${t}-stock.log"
        stock_tap=$(run_check stock "${config}" "${stock_log}" "${t}")
        if grep -q '^not ok ' <<<"${stock_tap}"; then
            result skip "iotests ${config}: ${t}" "known, stock fails too: ${reason}"
        else
            result fail "iotests ${config}: ${t}" \
                "listed as known (${reason}) but the stock build passes it"
        fi
    done
}

main() {
    local configs=("$@") c
    [[ ${#configs[@]} -gt 0 ]] || configs=("${ALL_CONFIGS[@]}")
    for c in fastio stock; do
        if [[ ! -x "${ROOT}/build/${c}/obj/qemu-nbd" ||
              ! -x "${ROOT}/build/${c}/obj/storage-daemon/qemu-storage-daemon" ]]; then
            result fail "iotests: ${c} build with qemu-nbd and the storage daemon" \
                "run the build stage first"
            return 0
        fi
    done
    LOGS="${ROOT}/build/test-logs/iotests"
    WORK=$(mktemp -d "${ROOT}/build/iotests.XXXXXX")
    # Sockets get a short folder of their own: a UNIX socket path must
    # fit in 108 bytes, the tests add up to ~45 (for example
    # qcow2-file-nbd-qemu-allocation/qemu-nbd.sock), and a checkout can
    # sit anywhere.
    SOCKS=$(mktemp -d /tmp/fastio-iot.XXXXXX)
    trap 'rm -rf "${WORK}" "${SOCKS}"' EXIT
    mkdir -p "${LOGS}"
    for c in "${configs[@]}"; do
        [[ " ${ALL_CONFIGS[*]} " == *" ${c} "* ]] ||
            { echo "tests/iotests/run.sh: unknown config '${c}'" >&2; exit 2; }
        run_config "${c}"
    done
}

main "$@"
