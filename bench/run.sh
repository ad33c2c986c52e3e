#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The benchmark: ours against the stock build of the same tarball and
# host-native fio, and shared folders (our virtio-fs, virtio-9p, Debian's C
# and Rust virtiofsd), in one run.  Writes results/<date>/{*.md,*.json,chart.png}.
# It asserts nothing about speed; it fails if a configuration does not run.
#
# Usage: bench/run.sh [--quick] [--out DIR] [imgbench] [guestbench] [fsbench]
#                    [vqbench] [vqbench-fs]
#   --quick   fewer pairs and shorter jobs (a smoke run, noisy)
#   --out     results folder (default results/<date>)
#   vqbench   the devices without a guest (docs/vqbench.md); not in the
#             default set
#   vqbench-fs the virtio-fs part of vqbench alone (ours, virtiofsd, host)
#   --publish also write the run's tables, with a description of the
#             machine, to docs/results/<date>-<parts>.md (and its chart)

set -Eeuo pipefail
trap 'echo "bench/run.sh: failed at line ${LINENO}: ${BASH_COMMAND}" >&2' ERR

main() {
    local root out="" quick=0 publish=0 parts=() p
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    while [[ $# -gt 0 ]]; do
        p="$1"
        shift
        case "${p}" in
        --quick) quick=1 ;;
        --publish) publish=1 ;;
        --out)
            [[ $# -gt 0 ]] || { echo "bench/run.sh: --out needs a folder" >&2; exit 2; }
            out="$1"
            shift ;;
        imgbench | guestbench | fsbench | vqbench | vqbench-fs)
            parts+=("${p}") ;;
        *) echo "bench/run.sh: unknown argument '${p}'" >&2; exit 2 ;;
        esac
    done
    [[ ${#parts[@]} -gt 0 ]] || parts=(imgbench guestbench fsbench)

    if [[ ${EUID} -eq 0 ]]; then
        "${root}/ci/install-deps.sh" --bench
    else
        "${root}/ci/install-deps.sh" --check --bench
    fi
    "${root}/build.sh" build
    "${root}/build.sh" --stock build

    [[ -n "${out}" ]] || out="${root}/results/$(date -u +%Y%m%d-%H%M%S)"
    mkdir -p "${out}"
    for p in "${parts[@]}"; do
        case "${p}" in
        imgbench)
            if [[ ${quick} -eq 1 ]]; then
                "${root}/bench/imgbench.py" --out "${out}" --pairs 1 --count 50000
            else
                "${root}/bench/imgbench.py" --out "${out}"
            fi ;;
        guestbench)
            if [[ ${quick} -eq 1 ]]; then
                "${root}/bench/guestbench.py" --out "${out}" --runtime 4 \
                    --configs native,io_uring --poll off
            else
                "${root}/bench/guestbench.py" --out "${out}"
            fi ;;
        fsbench)
            if [[ ${quick} -eq 1 ]]; then
                "${root}/bench/fsbench.py" --out "${out}" --runtime 3 \
                    --jobs randread-4k-libaio-qd16,seqwrite-1m,meta,untar \
                    --files 500 --tar-files 300 \
                    --configs ours,ours-inline,ours-pool,ours-dax,virtiofsd-rust,9p
            else
                # the backports kernel, so that ours-2q uses both queues
                "${root}/bench/fsbench.py" --out "${out}" --kernel backports
            fi ;;
        vqbench)
            if [[ ${quick} -eq 1 ]]; then
                "${root}/bench/vqbench.py" --out "${out}" --quick
            else
                "${root}/bench/vqbench.py" --out "${out}"
            fi ;;
        vqbench-fs)
            # its own folder, so that a vqbench in the same run stays
            "${root}/bench/vqbench.py" --out "${out}/vqbench-fs" --fs-only \
                $([[ ${quick} -eq 1 ]] && echo --quick)
            cp "${out}/vqbench-fs/vqbench.md" "${out}/vqbench-fs.md"
            # the chart's, unless a vqbench of the same run has one
            [[ -f "${out}/vqbench.json" ]] ||
                cp "${out}/vqbench-fs/vqbench.json" "${out}/" ;;
        esac
    done
    "${root}/bench/chart.py" "${out}"
    echo "bench/run.sh: results in ${out}"
    if [[ ${publish} -eq 1 ]]; then
        publish_results "${root}" "${out}" "${parts[@]}"
    fi
}

# publish_results ROOT OUT PART...: the run's tables as a dated docs page.
publish_results() {
    local root="$1" out="$2" name page p
    shift 2
    name="$(date -u +%Y-%m-%d)-$(IFS=-; echo "$*")"
    page="${root}/docs/results/${name}.md"
    mkdir -p "${root}/docs/results"
    {
        echo "# Results of $(date -u +%Y-%m-%d): $*"
        echo
        echo "Written by \`bench/run.sh --publish $*\`. The machine:"
        echo "$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')),"
        echo "$(free -g | awk '/^Mem:/ {print $2}') GiB of memory, Linux $(uname -r),"
        echo "$(. /etc/os-release && echo "${PRETTY_NAME}"); load average at the end:"
        echo "$(cut -d' ' -f1-3 /proc/loadavg)."
        echo
        if [[ -f "${out}/chart.png" ]]; then
            cp "${out}/chart.png" "${root}/docs/results/${name}.png"
            echo "![chart](${name}.png)"
            echo
        fi
        for p in "$@"; do
            [[ -f "${out}/${p}.md" ]] && sed 's/^#/##/' "${out}/${p}.md" && echo
        done
    } > "${page}"
    echo "bench/run.sh: published ${page#"${root}"/}"
}

{ main "$@"; exit $?; }
