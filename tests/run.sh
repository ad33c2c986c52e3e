#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The qemu-fastio test command: series hygiene, build.sh's own checks, the
# fastio and stock builds, QEMU's qtests and unit tests for our areas, and
# the guest tests.  Prints one line per check and a closing summary; exits
# non-zero if anything failed.
#
# Usage: tests/run.sh [--no-deps] [STAGE...]
#   stages: series build-sh build qtest unit iotests guest libvirt
#   (default: all, in order)
#   --no-deps  install nothing; only check that the stages' packages are
#              there
# As root it first installs the Debian packages the stages need
# (ci/install-deps.sh, as build.sh does); as another user it names what is
# missing and the command that installs it, and stops.
# The upstream tarball is found as build.sh finds it (--source is taken
# from $QEMU_FASTIO_TARBALL).

# shellcheck disable=SC2317 # the stage_* functions are called by name
set -Eeuo pipefail
trap 'echo "tests/run.sh: failed at line ${LINENO}: ${BASH_COMMAND}" >&2' ERR
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/lib.sh"

readonly ALL_STAGES=(series build-sh build qtest unit iotests guest libvirt)
UPSTREAM_TARBALL=""
INSTALL_DEPS=1

# The Debian packages the stages STAGE... need (ci/install-deps.sh holds
# the lists): as root install them, as build.sh does; otherwise, or with
# --no-deps, name what is missing and how to install it, and stop.
deps() {
    local s args=()
    for s in "$@"; do
        case "${s}" in
        unit | iotests | guest | libvirt) args=(--tests) ;;
        esac
    done
    if [[ ${INSTALL_DEPS} -eq 1 && ${EUID} -eq 0 ]]; then
        "${ROOT}/ci/install-deps.sh" "${args[@]}" ||
            { echo "tests/run.sh: installing the test packages failed" >&2; exit 1; }
    elif ! "${ROOT}/ci/install-deps.sh" --check "${args[@]}"; then
        echo "tests/run.sh: install them as root with: ci/install-deps.sh${args[*]:+ ${args[*]}}" >&2
        echo "tests/run.sh: (or run tests/run.sh as root, which does it)" >&2
        exit 1
    fi
}

stage_series() {
    "${TESTS_DIR}/check-series.sh" "${UPSTREAM_TARBALL}"
}

stage_build_sh() {
    "${TESTS_DIR}/test-build-sh.sh" "${UPSTREAM_TARBALL}"
}

stage_build() {
    check "build: fastio qemu-system-x86_64 and qemu-img, verified" \
        "${ROOT}/build.sh" build
    check "build: stock baseline (build group only), verified" \
        "${ROOT}/build.sh" --stock build
    check "build: patches/ and series are what export writes" \
        "${ROOT}/build.sh" export --check
}

meson_stage() {
    local obj="${ROOT}/build/fastio/obj"
    if [[ ! -x "${obj}/qemu-system-x86_64" ]]; then
        result fail "$1: fastio build present" "run the build stage first"
        return 0
    fi
    "${TESTS_DIR}/meson-tests.py" "${obj}" "$1" || true
}

stage_qtest() {
    meson_stage qtest
}

stage_unit() {
    local t qemu_io="${ROOT}/build/fastio/obj/qemu-io"
    meson_stage unit
    for t in "${TESTS_DIR}"/aio/*.sh; do
        if [[ -x "${qemu_io}" ]]; then
            "${t}" "${qemu_io}"
        else
            result fail "unit: ${t##*/}" "${qemu_io} not built"
        fi
    done
    # A short libFuzzer run over the virtio-fs request parser (ASan, UBSan).
    "${TESTS_DIR}/fuzz/run.sh"
    # vqbench, the guest-free virtqueue driver: every virtio-blk and
    # virtio-fs request kind against our build, each answer checked; and a
    # run that expects another pattern than the disk holds must fail.
    check "unit: vqbench self-test, virtio-blk and virtio-fs" \
        "${ROOT}/bench/vqbench.py" --selftest
    check "unit: vqbench fails on a wrong answer" \
        "${ROOT}/bench/vqbench.py" --selftest-negative
}

# Upstream's qemu-iotests quick group, raw and qcow2 with aio=native and
# io_uring; failures are excused only when listed and stock fails them too.
stage_iotests() {
    "${TESTS_DIR}/iotests/run.sh"
}

stage_guest() {
    "${TESTS_DIR}/guest/run.sh"
    "${TESTS_DIR}/guest/crash.py" ||
        result fail "guest: nothing-lost test ran to completion"
    "${TESTS_DIR}/guest/migrate.py" ||
        result fail "guest: virtio-fs migration test ran to completion"
}

stage_libvirt() {
    "${TESTS_DIR}/libvirt/run.sh"
}

main() {
    local stages=() s start logdir summary pass fail skip
    for s in "$@"; do
        case "${s}" in
        --no-deps) INSTALL_DEPS=0 ;;
        *) stages+=("${s}") ;;
        esac
    done
    [[ ${#stages[@]} -gt 0 ]] || stages=("${ALL_STAGES[@]}")
    for s in "${stages[@]}"; do
        [[ " ${ALL_STAGES[*]} " == *" ${s} "* ]] ||
            { echo "tests/run.sh: unknown stage '${s}' (${ALL_STAGES[*]})" >&2; exit 2; }
    done

    deps "${stages[@]}"

    logdir="${ROOT}/build/test-logs"
    mkdir -p "${logdir}"
    FASTIO_RESULTS="${logdir}/results.tsv"
    export FASTIO_RESULTS
    : > "${FASTIO_RESULTS}"

    UPSTREAM_TARBALL=$("${ROOT}/build.sh" fetch) || {
        echo "tests/run.sh: no upstream tarball; see README.md" >&2
        exit 1
    }

    for s in "${stages[@]}"; do
        start=$(date +%s)
        echo "== stage ${s}"
        "stage_${s//-/_}" 2>&1 | tee "${logdir}/${s}.log"
        echo "== stage ${s}: $(($(date +%s) - start)) s"
    done

    pass=$(grep -c '^pass' "${FASTIO_RESULTS}" || true)
    fail=$(grep -c '^fail' "${FASTIO_RESULTS}" || true)
    skip=$(grep -c '^skip' "${FASTIO_RESULTS}" || true)
    summary="${pass} passed, ${fail} failed, ${skip} skipped"
    if [[ ${fail} -gt 0 ]]; then
        echo "Failed checks:"
        grep '^fail' "${FASTIO_RESULTS}" | cut -f2- | sed 's/^/  /'
    fi
    echo "summary: ${summary}"
    [[ ${fail} -eq 0 ]] || STATUS=1
}

STATUS=0
{ main "$@"; exit "${STATUS}"; }
