# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# Helpers shared by the test stages: each check reports one result line,
# which tests/run.sh counts for the closing summary.

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "${TESTS_DIR}/.." && pwd)
readonly TESTS_DIR ROOT
: "${FASTIO_RESULTS:=/dev/null}"
# series_entries and the rest of what build.sh and the tests share
# shellcheck source=ci/lib.sh
source "${ROOT}/ci/lib.sh"

# result STATUS NAME [DETAIL]: STATUS is pass, fail or skip.
result() {
    local status="$1" name="$2" detail="${3:-}"
    case "${status}" in
    pass) printf 'ok      %s\n' "${name}" ;;
    fail) printf 'FAIL    %s%s\n' "${name}" "${detail:+: ${detail}}" ;;
    skip) printf 'skip    %s%s\n' "${name}" "${detail:+: ${detail}}" ;;
    *) echo "result: bad status ${status}" >&2; return 1 ;;
    esac
    printf '%s\t%s\n' "${status}" "${name}" >> "${FASTIO_RESULTS}"
}

# check NAME CMD...: run CMD quietly, one result; its output on failure.
check() {
    local name="$1" out
    shift
    out=$(mktemp)
    if "$@" >"${out}" 2>&1; then
        result pass "${name}"
    else
        result fail "${name}"
        sed 's/^/    | /' "${out}" | tail -n 40
    fi
    rm -f "${out}"
}

# expect_fail NAME PATTERN CMD...: CMD must fail and say PATTERN (grep -E).
expect_fail() {
    local name="$1" pattern="$2" out rc=0
    shift 2
    out=$(mktemp)
    "$@" >"${out}" 2>&1 || rc=$?
    if [[ ${rc} -eq 0 ]]; then
        result fail "${name}" "succeeded, expected a failure"
        sed 's/^/    | /' "${out}" | tail -n 20
    elif ! grep -qE -- "${pattern}" "${out}"; then
        result fail "${name}" "failed without saying /${pattern}/"
        sed 's/^/    | /' "${out}" | tail -n 20
    else
        result pass "${name}"
    fi
    rm -f "${out}"
}
