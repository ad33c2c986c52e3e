#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The patch-export engine behind './build.sh export': write the commits
# upstream..HEAD of a work tree as patches/<group>/NNNN-*.patch and
# regenerate series, so that re-exporting an unchanged commit changes no
# byte.  See docs/workflow.md for how commits map to groups.
#
# Usage: ci/series-export.sh [options] SRC
#   SRC              the work tree (build/fastio/src)
#   --group NAME     put commits that match no patch into group NAME
#   --group NAME=REV put commit REV of the work tree into group NAME
#                    (repeatable; wins over the series and over --group NAME)
#   --check          change nothing, fail if patches/ or series differ from
#                    what export would write
#   --to DIR         write the patches into DIR/<group>/ and their order into
#                    DIR/.entries; leave patches/ and series alone
# Messages name the caller given by $FASTIO_EXPORT_NAME (default: this
# script).

set -Eeuo pipefail
trap 'echo "${NAME}: failed at line ${LINENO}: ${BASH_COMMAND}" >&2' ERR
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NAME=${FASTIO_EXPORT_NAME:-ci/series-export.sh}
ROOT=${FASTIO_ROOT}
SRC=""
NEW_GROUP=""
declare -A COMMIT_GROUP=()
EXPORT_CHECK=0
TO=""

die() {
    echo "${NAME}: error: $*" >&2
    exit 1
}

info() {
    echo "${NAME}: $*"
}

git_src() {
    git -C "${SRC}" "$@"
}

# Group of a patch path: its folder under patches/.
group_of() { echo "${1%%/*}"; }

# Write the commits upstream..HEAD as patches into DIR/<group>/NNNN-*.patch
# and their order into DIR/.entries.  Commits are matched to the existing
# series by subject; a commit named by --group NAME=REV goes to NAME; one
# that matches nothing joins --group NAME, or else the group of the commit
# before it.
export_commits() {
    local dir="$1" c subject group prev_group="" num file e rev
    declare -A by_subject=() count=() by_commit=()
    for rev in "${!COMMIT_GROUP[@]}"; do
        c=$(git_src rev-parse --verify --quiet "${rev}^{commit}") ||
            die "--group ${COMMIT_GROUP[${rev}]}=${rev}: no such commit in the work tree"
        by_commit[${c}]=${COMMIT_GROUP[${rev}]}
    done
    while IFS= read -r e; do
        subject=$(git mailinfo /dev/null /dev/null < "${ROOT}/patches/${e}" |
            sed -n 's/^Subject: //p')
        by_subject["${subject}"]=$(group_of "${e}")
    done < <(series_entries)
    : > "${dir}/.entries"
    for c in $(git_src rev-list --reverse upstream..HEAD); do
        subject=$(git_src log -1 --format=%s "${c}")
        if [[ -n "${by_commit[${c}]:-}" ]]; then
            group=${by_commit[${c}]}
        elif [[ -n "${by_subject[${subject}]:-}" ]]; then
            group=${by_subject[${subject}]}
        elif [[ -n "${NEW_GROUP}" ]]; then
            group=${NEW_GROUP}
        elif [[ -n "${prev_group}" ]]; then
            group=${prev_group}
        else
            die "commit '${subject}' matches no patch: say its group with --group NAME"
        fi
        [[ "${group}" =~ ^[a-z0-9][a-z0-9-]*$ ]] || die "bad group name '${group}'"
        num=$((${count[${group}]:-0} + 1))
        count[${group}]=${num}
        mkdir -p "${dir}/${group}"
        file=$(GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 \
            git -C "${SRC}" format-patch --zero-commit --no-signature \
            --no-numbered --diff-algorithm=myers --full-index --no-renames \
            --start-number "${num}" -o "${dir}/${group}" -1 "${c}")
        echo "${group}/${file##*/}" >> "${dir}/.entries"
        prev_group=${group}
    done
}

# Regenerate series from the exported entries, keeping the header and the
# comment that introduces each group.
write_series() {
    local entries="$1" out="$2"
    declare -A comment=()
    local line block="" header="" seen_entry=0 g prev=""
    if [[ -f "${ROOT}/series" ]]; then
        while IFS= read -r line || [[ -n "${line}" ]]; do
            if [[ "${line}" == '#'* ]]; then
                block+="${line}"$'\n'
            elif [[ -z "${line}" ]]; then
                if [[ ${seen_entry} -eq 0 && -z "${header}" ]]; then
                    header=${block}
                fi
                block=""
            else
                g=$(group_of "${line%% *}")
                if [[ -n "${block}" ]]; then
                    comment[${g}]=${block}
                fi
                block=""
                seen_entry=1
            fi
        done < "${ROOT}/series"
        if [[ ${seen_entry} -eq 0 && -z "${header}" ]]; then
            header=${block}
        fi
    fi
    {
        printf '%s\n' "${header%$'\n'}"
        while IFS= read -r line; do
            g=$(group_of "${line}")
            if [[ "${g}" != "${prev}" ]]; then
                echo
                printf '%s' "${comment[${g}]:-# ${g}$'\n'}"
                prev=${g}
            fi
            echo "${line}"
        done < "${entries}"
    } > "${out}"
}

main() {
    local tmp rc=0
    while [[ $# -gt 0 ]]; do
        case "$1" in
        --group)
            case "${2:?--group needs a name}" in
            *=*) COMMIT_GROUP["${2#*=}"]=${2%%=*} ;;
            *) NEW_GROUP=$2 ;;
            esac
            shift ;;
        --check) EXPORT_CHECK=1 ;;
        --to) TO=${2:?--to needs a folder}; shift ;;
        -*) die "unknown argument '$1'" ;;
        *) SRC=$1 ;;
        esac
        shift
    done
    [[ -n "${SRC}" ]] || die "usage: ${NAME} [--group NAME[=REV]] [--check] [--to DIR] SRC"
    [[ -d "${SRC}/.git" ]] || die "no work tree at ${SRC}"

    if [[ -n "${TO}" ]]; then
        export_commits "${TO}"
        return 0
    fi
    tmp=$(mktemp -d)
    mkdir -p "${tmp}/patches"
    export_commits "${tmp}/patches"
    mv "${tmp}/patches/.entries" "${tmp}/entries"
    write_series "${tmp}/entries" "${tmp}/series"
    if [[ ${EXPORT_CHECK} -eq 1 ]]; then
        # Compare only: the committed patches must be what export writes.
        diff -ru "${ROOT}/patches" "${tmp}/patches" >&2 || rc=1
        diff -u "${ROOT}/series" "${tmp}/series" >&2 || rc=1
        rm -rf "${tmp}"
        [[ ${rc} -eq 0 ]] ||
            die "patches/ and series differ from what './build.sh export' writes"
        info "patches/ and series are exactly what export writes"
        return 0
    fi
    rm -rf "${ROOT}/patches"
    mv "${tmp}/patches" "${ROOT}/patches"
    cp "${tmp}/series" "${ROOT}/series"
    info "exported $(wc -l < "${tmp}/entries") patch(es) to patches/ and series"
    rm -rf "${tmp}"
}

{ main "$@"; exit $?; }
