#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build the libFuzzer target of the in-process virtio-fs FUSE server
# (tests/fuzz/virtiofs-fuse-fuzz.c over hw/virtiofs/fuse-server.c,
# passthrough.c, passthrough-xattr.c and dax.c) with clang and -fsanitize=fuzzer,address,undefined, and
# run it for a bounded time on the seed corpus tests/fuzz/corpus/virtiofs.
# One result line (tests/lib.sh); any crash, leak, sanitizer report or
# harness check (malformed reply, leaked fd, a change outside the share)
# fails it, and the input is kept in build/fuzz/artifacts/.  Without clang
# or its libFuzzer runtime the check fails (ci/install-deps.sh --tests,
# which tests/run.sh runs as root, installs them).
#
# Usage: tests/fuzz/run.sh [-t|--time SECONDS] [--runs N] [--corpus DIR]
#                          [--keep-going] [--merge] [--src DIR] [--obj DIR]
#                          [-- LIBFUZZER-ARGS...]
#   -t, --time SECONDS  fuzzing time (default 30, or $FUZZ_TIME); 0: no
#                limit (then give --runs)
#   --runs N     stop after N executions (libFuzzer -runs)
#   --corpus DIR keep the inputs the run finds in DIR (default: a temporary
#                directory, removed afterwards); a later run starts from it
#   --keep-going one process per job (libFuzzer -fork=1): a crash is kept in
#                build/fuzz/artifacts/ and fuzzing goes on; the check still
#                fails at the end
#   --merge      then minimize what this run found together with the
#                committed corpus into tests/fuzz/corpus/virtiofs
#                (libFuzzer -merge=1): the named seeds of gen-corpus.py
#                stay as they are, the files named by their SHA-1 become
#                the fewest inputs that add edges to them
#   --src DIR    QEMU source tree (default build/fastio/src)
#   --obj DIR    its meson build folder (default build/fastio/obj)
# A long run:  tests/fuzz/run.sh --time 36000 --corpus build/fuzz/corpus \
#                  --keep-going --merge
# Reproduce a crash: build/fuzz/virtiofs-fuse-fuzz build/fuzz/artifacts/FILE
# (one with two threads, fdlimit byte >= 128, may need -runs=1000)

set -Eeuo pipefail
trap 'echo "tests/fuzz/run.sh: failed at line ${LINENO}: ${BASH_COMMAND}" >&2' ERR
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

readonly NAME="fuzz: virtio-fs FUSE server (libFuzzer, ASan, UBSan)"
readonly FUZZ_DIR="${TESTS_DIR}/fuzz"
readonly OUT="${ROOT}/build/fuzz"
readonly SANITIZE=("-fsanitize=fuzzer,address,undefined"
    -fno-sanitize-recover=all -fno-omit-frame-pointer)
WORK=""

cleanup() {
    [[ -z "${WORK}" ]] || rm -rf -- "${WORK}"
}

usage() {
    sed -n 's/^# \{0,1\}//; /^Usage:/,/^(one with/p' "$0" >&2
    exit 2
}

find_clang() {
    local c
    for c in "${FUZZ_CC:-}" clang clang-19 clang-18 clang-17 clang-16 \
        clang-15 clang-14; do
        if [[ -n "${c}" ]] && command -v "${c}" >/dev/null 2>&1; then
            echo "${c}"
            return 0
        fi
    done
    return 1
}

# The compiler flags meson uses for the unit test's copy of fuse-server.c,
# minus gcc's warnings: include paths (made absolute), defines, -std, -m.
qemu_cflags() {
    python3 - "$1" <<'EOF'
import json, os, shlex, sys
obj = sys.argv[1]
for e in json.load(open(os.path.join(obj, "compile_commands.json"))):
    if e["file"].endswith("hw/virtiofs/fuse-server.c") and \
            "test-virtiofs-fuse" in e.get("output", e["command"]):
        break
else:
    sys.exit("no unit-test compile command for hw/virtiofs/fuse-server.c")
args, out, d = shlex.split(e["command"]), [], e["directory"]
i = 0
while i < len(args):
    a = args[i]
    if a in ("-I", "-iquote", "-isystem"):
        out += [a, os.path.normpath(os.path.join(d, args[i + 1]))]
        i += 1
    elif a.startswith("-I"):
        out.append("-I" + os.path.normpath(os.path.join(d, a[2:])))
    elif a.startswith(("-D", "-std=", "-m")) or a in (
            "-pthread", "-fno-strict-aliasing", "-fno-common", "-fwrapv"):
        out.append(a)
    i += 1
print("\n".join(out))
EOF
}

# What the unit test links besides its own objects (qom, event loop
# base, libqemuutil.a and the system libraries), from build.ninja, with
# paths made absolute.
qemu_link() {
    python3 - "$1" <<'EOF'
import os, sys
obj = sys.argv[1]
lines = open(os.path.join(obj, "build.ninja")).read().split("\n")
for i, line in enumerate(lines):
    if line.startswith("build tests/unit/test-virtiofs-fuse:"):
        break
else:
    sys.exit("no link rule for tests/unit/test-virtiofs-fuse")
deps = lines[i].split(":", 1)[1].split("|")[0].split()[1:]
out = [os.path.join(obj, d) for d in deps
       if d.endswith(".o") and not d.startswith("tests/")]
args = next(l for l in lines[i + 1:] if l.strip().startswith("LINK_ARGS"))
for a in args.split("=", 1)[1].split():
    if a.endswith((".a", ".so")) or ".so." in a:
        out.append(os.path.join(obj, a))
    elif a.startswith(("-l", "-Wl,--start-group", "-Wl,--end-group")) or \
            a == "-pthread":
        out.append(a)
print("\n".join(out))
EOF
}

build() {
    local cc="$1" src="$2" obj="$3" f o
    local -a cflags objs=() link
    # errexit is off here (build runs under "if"): check each step
    mapfile -t cflags < <(qemu_cflags "${obj}")
    [[ ${#cflags[@]} -gt 0 ]] || return 1
    mapfile -t link < <(qemu_link "${obj}")
    [[ ${#link[@]} -gt 0 ]] || return 1
    mkdir -p "${OUT}/objs"
    for f in "${src}/hw/virtiofs/fuse-server.c" \
        "${src}/hw/virtiofs/passthrough.c" \
        "${src}/hw/virtiofs/passthrough-xattr.c" "${src}/hw/virtiofs/dax.c" \
        "${src}/util/iov.c" "${FUZZ_DIR}/virtiofs-fuse-fuzz.c"; do
        o="${OUT}/objs/$(basename "${f}" .c).o"
        "${cc}" "${cflags[@]}" -iquote "${src}/hw/virtiofs" -O1 -g \
            "${SANITIZE[@]}" -Wno-unused-command-line-argument \
            -Werror=implicit-function-declaration -c "${f}" -o "${o}" ||
            return 1
        objs+=("${o}")
    done
    # the harness looks at the server's DAX window and backend through
    # these two constructors
    "${cc}" "${SANITIZE[@]}" -o "${OUT}/virtiofs-fuse-fuzz" "${objs[@]}" \
        -Wl,--wrap=fuse_dax_new -Wl,--wrap=fuse_pt_new "${link[@]}" ||
        return 1
}

# Inputs that add coverage to the committed corpus: the named seeds stay,
# the grown inputs (named by their SHA-1) are replaced with the fewest of
# them and of the files in $2 that add coverage beyond the seeds.  By
# edges only (-use_counters=0): keeping an input for each new hit count
# of an edge makes the committed corpus several times larger for no new
# code reached; a run grows those counts again from it.
merge() {
    local corpus="$1" found="$2" log="$3" f
    local seeds="${WORK}/merge-seeds" grown="${WORK}/merge-grown"
    mkdir -p "${seeds}" "${grown}"
    for f in "${corpus}"/*; do
        if [[ "$(basename "${f}")" =~ ^[0-9a-f]{40}$ ]]; then
            cp -- "${f}" "${grown}/"
        else
            cp -- "${f}" "${seeds}/"
        fi
    done
    TMPDIR="${WORK}/tmp" \
    ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:print_summary=1" \
    UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:print_summary=1" \
        "${OUT}/virtiofs-fuse-fuzz" -merge=1 -use_counters=0 -timeout=10 \
        -rss_limit_mb=2048 -max_len=16384 -handle_xfsz=0 -print_funcs=0 \
        -artifact_prefix="${OUT}/artifacts/" \
        "${seeds}" "${grown}" "${found}" >>"${log}" 2>&1 || return 1
    for f in "${corpus}"/*; do
        if [[ "$(basename "${f}")" =~ ^[0-9a-f]{40}$ ]]; then
            rm -f -- "${f}"
        fi
    done
    for f in "${seeds}"/*; do
        if [[ "$(basename "${f}")" =~ ^[0-9a-f]{40}$ ]]; then
            cp -- "${f}" "${corpus}/"
        fi
    done
}

main() {
    local secs="${FUZZ_TIME:-30}" src="${ROOT}/build/fastio/src"
    local obj="${ROOT}/build/fastio/obj" cc log rc=0 stats runs="" scratch=""
    local keep_going=0 do_merge=0 crashes what
    local -a extra=() limits=()
    while [[ $# -gt 0 ]]; do
        case "$1" in
        -t|--time) secs="${2:?}"; shift ;;
        --runs) runs="${2:?}"; shift ;;
        --corpus) scratch="${2:?}"; shift ;;
        --keep-going) keep_going=1 ;;
        --merge) do_merge=1 ;;
        --src) src="${2:?}"; shift ;;
        --obj) obj="${2:?}"; shift ;;
        --) shift; extra=("$@"); break ;;
        *) usage ;;
        esac
        shift
    done
    [[ "${secs}" =~ ^(0|[1-9][0-9]*)$ ]] || usage
    [[ -z "${runs}" || "${runs}" =~ ^[1-9][0-9]*$ ]] || usage
    [[ "${secs}" != 0 || -n "${runs}" ]] || usage
    limits=(-max_total_time="${secs}")
    what="${secs} s"
    if [[ -n "${runs}" ]]; then
        limits+=(-runs="${runs}")
        [[ "${secs}" != 0 ]] || what="${runs} runs max"
    fi
    if [[ ${keep_going} -eq 1 ]]; then
        limits+=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
    fi

    if ! cc=$(find_clang); then
        result fail "${NAME}" "clang not installed (ci/install-deps.sh --tests: clang-14 libclang-rt-14-dev)"
        return 0
    fi
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-run.XXXXXX")
    trap cleanup EXIT
    printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n)\n{ return 0; }\n' \
        > "${WORK}/probe.c"
    if ! "${cc}" "${SANITIZE[@]}" -o "${WORK}/probe" "${WORK}/probe.c" \
        >"${WORK}/probe.log" 2>&1; then
        result fail "${NAME}" "${cc} has no libFuzzer/ASan runtime (ci/install-deps.sh --tests: libclang-rt-14-dev)"
        return 0
    fi
    if [[ ! -f "${src}/hw/virtiofs/fuse-server.c" ]]; then
        result skip "${NAME}" "${src} has no hw/virtiofs (not in the series)"
        return 0
    fi
    if [[ ! -f "${obj}/libqemuutil.a" || ! -f "${obj}/compile_commands.json" ]]; then
        result fail "${NAME}" "no QEMU build in ${obj}; run the build stage first"
        return 0
    fi

    log="${OUT}/virtiofs-fuse-fuzz.log"
    scratch="${scratch:-${WORK}/corpus}"
    mkdir -p "${OUT}/artifacts" "${scratch}" "${WORK}/tmp"
    if ! build "${cc}" "${src}" "${obj}" >"${log}" 2>&1; then
        result fail "${NAME}" "build failed, see ${log}"
        sed 's/^/    | /' "${log}" | tail -n 20
        return 0
    fi

    # new inputs go to the scratch corpus, never into the committed seeds
    # (--merge adds the ones worth keeping afterwards);
    # -print_funcs=0: naming a newly covered function starts the symbolizer,
    # whose pipes the harness would count as fds leaked by the server
    TMPDIR="${WORK}/tmp" \
    ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:print_summary=1" \
    UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:print_summary=1" \
        "${OUT}/virtiofs-fuse-fuzz" "${limits[@]}" -timeout=10 \
        -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 -handle_xfsz=0 \
        -print_funcs=0 \
        -artifact_prefix="${OUT}/artifacts/" ${extra[@]+"${extra[@]}"} \
        "${scratch}" "${FUZZ_DIR}/corpus/virtiofs" >>"${log}" 2>&1 ||
        rc=$?

    # one process: its final stats; --keep-going: the last status line of
    # the parent (#RUNS: cov: C ft: F corp: ... exec/s: E ...)
    stats=$(awk '/^#[0-9]+[ \t]+(DONE|pulse|NEW|REDUCE|INITED)/ {
            for (i = 2; i < NF; i++) {
                if ($i == "cov:") c = $(i + 1)
                if ($i == "ft:") f = $(i + 1)
            }
        }
        /^#[0-9]+: cov: / { n = substr($1, 2, length($1) - 2); c = $3; f = $5
            for (i = 2; i < NF; i++) if ($i == "exec/s") e = $(i + 1) }
        /stat::number_of_executed_units/ { n = $2 }
        /stat::average_exec_per_sec/ { e = $2 }
        END { if (n) printf "%s runs, %s exec/s, cov %s, ft %s", n, e, c, f }' \
        "${log}")
    crashes=$(grep -cE '^(==[0-9]+==ERROR: |SUMMARY: |virtiofs-fuse-fuzz: |.*runtime error:)' \
        "${log}" || true)
    if [[ ${do_merge} -eq 1 && ${rc} -eq 0 ]] &&
        ! merge "${FUZZ_DIR}/corpus/virtiofs" "${scratch}" "${log}"; then
        result fail "${NAME}" "merge into ${FUZZ_DIR}/corpus/virtiofs failed, see ${log}"
        return 0
    fi
    if [[ ${rc} -ne 0 || ${crashes} -ne 0 ]] ||
        grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|virtiofs-fuse-fuzz: ' \
            "${log}"; then
        result fail "${NAME}" "exit ${rc}; ${stats:-no stats}; log ${log}, input in ${OUT}/artifacts/"
        grep -E -A12 'ERROR: |runtime error:|virtiofs-fuse-fuzz: ' "${log}" |
            head -n 30 | sed 's/^/    | /'
        return 0
    fi
    result pass "${NAME}: ${what}, ${stats:-no stats}"
}

main "$@"
