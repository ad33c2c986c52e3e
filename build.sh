#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# qemu-fastio: obtain the pinned upstream QEMU, apply the patch series and
# build qemu-system-x86_64 and qemu-img.  See README.md and docs/workflow.md.

# shellcheck disable=SC2317 # the cmd_* functions are called by name
set -Eeuo pipefail
trap 'echo "build.sh: failed at line ${LINENO}: ${BASH_COMMAND}" >&2' ERR

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly ROOT
# QEMU_VERSION, DEBIAN_VERSION, TARBALL, BUILD_DEPS, series_entries,
# apt_archives
# shellcheck source=ci/lib.sh
source "${ROOT}/ci/lib.sh"
# Debian releases whose source archive carries ${DEBIAN_VERSION}.
readonly SOURCE_SUITES="trixie trixie-updates"
readonly SOURCE_SECURITY_SUITE=trixie-security
# The group of patches that the stock (A/B baseline) build also applies.
readonly STOCK_GROUP=build
# qemu-io is for the tests (tests/aio/); qemu-io, qemu-nbd and the storage
# daemon for upstream's qemu-iotests (tests/iotests/).
readonly TARGETS=(qemu-system-x86_64 qemu-img qemu-io qemu-nbd
    storage-daemon/qemu-storage-daemon)
readonly FIRMWARE_DIRS=(/usr/share/seabios /usr/lib/ipxe/qemu)

VARIANT=fastio
SOURCE=${QEMU_FASTIO_TARBALL:-}
CACHE_DIR=${QEMU_FASTIO_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/qemu-fastio}
PREFIX=/opt/qemu-fastio
INSTALL_DEPS=1
EXPORT_ARGS=()
RESET=0
JOBS=$(nproc)

die() {
    echo "build.sh: error: $*" >&2
    exit 1
}

info() {
    echo "build.sh: $*"
}

usage() {
    cat <<EOF
Usage: ./build.sh [options] [command]

Commands (default: build):
  build      install dependencies, fetch, prepare, configure, compile, verify
  deps       install the Debian packages the build needs (as root)
  fetch      obtain the upstream tarball and verify its sha256
  prepare    unpack upstream into the work tree and apply the series
  export     regenerate patches/ and series from the work tree's commits
  verify     check that the built binaries carry what the series adds
  install    install the build under --prefix (default ${PREFIX})
  env        print the paths of the build (for scripts)
  clean      remove the build folder of the variant

Options:
  --stock          work on the stock build: upstream plus the '${STOCK_GROUP}'
                   group only, in build/stock (the A/B baseline)
  --source FILE    the upstream tarball ${TARBALL}
                   (or a folder holding it; also \$QEMU_FASTIO_TARBALL)
  --no-deps        do not install packages; only check that they are present
  --group NAME     export: put commits that match no patch into group NAME
  --group NAME=REV export: put commit REV of the work tree into group NAME
                   (repeatable; wins over the series and over --group NAME)
  --check          export: change nothing, fail if patches/ or series
                   differ from what export would write
  --reset          prepare: rebuild the work tree even if it has commits
                   that were never exported (they are lost)
  --prefix DIR     install prefix (default ${PREFIX})
  -j N             parallel jobs (default ${JOBS})
  -h, --help       this text

Upstream tarball lookup order: --source, the cache (${CACHE_DIR}),
then 'apt-get source --download-only qemu=${DEBIAN_VERSION}'.
EOF
}

# ---------------------------------------------------------------- paths

variant_dir() { echo "${ROOT}/build/${VARIANT}"; }
src_dir() { echo "$(variant_dir)/src"; }
obj_dir() { echo "$(variant_dir)/obj"; }
roms_dir() { echo "$(variant_dir)/roms"; }

expected_sha256() {
    awk -v f="${TARBALL}" '$1 == "sha256" && $3 == f { print $2 }' \
        "${ROOT}/upstream/qemu.hash"
}

# ---------------------------------------------------------------- series

# Print the entries this variant applies.
variant_entries() {
    if [[ "${VARIANT}" == stock ]]; then
        series_entries | grep "^${STOCK_GROUP}/" || true
    else
        series_entries
    fi
}

check_series() {
    local e missing=0
    [[ -f "${ROOT}/series" ]] || die "no series file in ${ROOT}"
    while IFS= read -r e; do
        if [[ ! -f "${ROOT}/patches/${e}" ]]; then
            echo "build.sh: error: series names patches/${e}, which does not exist" >&2
            missing=1
        fi
    done < <(series_entries)
    [[ ${missing} -eq 0 ]] || exit 1
}

# A digest of everything the work tree is made from.
inputs_digest() {
    local e
    {
        echo "${VARIANT} $(expected_sha256)"
        while IFS= read -r e; do
            echo "${e}"
            cat "${ROOT}/patches/${e}"
        done < <(variant_entries)
    } | sha256sum | cut -d' ' -f1
}

# ---------------------------------------------------------------- deps

cmd_deps() {
    if [[ ${INSTALL_DEPS} -eq 1 && ${EUID} -eq 0 ]]; then
        "${ROOT}/ci/install-deps.sh"
    elif ! "${ROOT}/ci/install-deps.sh" --check; then
        die "dependencies are missing: run './build.sh deps' as root"
    fi
}

# Check the tools and libraries configure needs, naming what is missing
# and its Debian package (BUILD_DEPS in ci/lib.sh).
preflight() {
    local line pkg check what problems=() found f files
    for line in "${BUILD_DEPS[@]}"; do
        pkg=${line%% *}
        for check in ${line#"${pkg}"}; do
            what=${check#*:}
            case "${check}" in
            cmd:*)
                command -v "${what}" >/dev/null 2>&1 ||
                    problems+=("command '${what}' not found (Debian package ${pkg})") ;;
            pc:*)
                command -v pkg-config >/dev/null 2>&1 || continue
                pkg-config --exists "${what}" ||
                    problems+=("library '${what}' not found (Debian package ${pkg})") ;;
            file:*)
                found=0
                IFS='|' read -r -a files <<< "${what}"
                for f in "${files[@]}"; do
                    [[ -r "${f}" ]] && found=1
                done
                [[ ${found} -eq 1 ]] ||
                    problems+=("${files[0]} not found (Debian package ${pkg})") ;;
            esac
        done
    done
    command -v meson >/dev/null 2>&1 ||
        problems+=("command 'meson' not found (Debian 12: meson from bookworm-backports)")
    if command -v meson >/dev/null 2>&1 &&
        ! dpkg --compare-versions "$(meson --version)" ge "${MIN_MESON}"; then
        problems+=("meson $(meson --version) is older than ${MIN_MESON} (Debian 12: bookworm-backports)")
    fi
    /usr/bin/python3 -c 'import venv, pycotap' 2>/dev/null ||
        problems+=("/usr/bin/python3 lacks venv or pycotap (python3-venv, python3-pycotap)")
    if [[ ${#problems[@]} -gt 0 ]]; then
        printf 'build.sh: error: missing dependency: %s\n' "${problems[@]}" >&2
        die "install them with './build.sh deps' (as root) and run again"
    fi
}

# ---------------------------------------------------------------- fetch

verify_tarball() {
    local file="$1" want got
    want=$(expected_sha256)
    [[ -n "${want}" ]] || die "upstream/qemu.hash has no sha256 for ${TARBALL}"
    got=$(sha256sum "${file}" | cut -d' ' -f1)
    if [[ "${got}" != "${want}" ]]; then
        echo "build.sh: error: ${file} is not the pinned upstream tarball" >&2
        echo "build.sh: error:   sha256 expected ${want}" >&2
        echo "build.sh: error:   sha256 found    ${got}" >&2
        exit 1
    fi
}

# Fetch the orig tarball with apt, from a private apt configuration whose
# deb-src entries are derived from the mirrors the machine already uses
# (the release mirror and, if configured, the security mirror).
apt_source_download() {
    local dest="$1" tmp main_uri sec_uri suite
    main_uri=$(apt_archives | awk '$2 !~ /-/ { print $1; exit }')
    sec_uri=$(apt_archives | awk '$2 ~ /-security$/ { print $1; exit }')
    [[ -n "${main_uri}" ]] ||
        die "no Debian mirror in the apt sources to fetch qemu ${DEBIAN_VERSION} from; use --source"
    tmp=$(mktemp -d)
    mkdir -p "${tmp}/lists/partial" "${tmp}/parts"
    {
        for suite in ${SOURCE_SUITES}; do
            echo "deb-src ${main_uri} ${suite} main"
        done
        if [[ -n "${sec_uri}" ]]; then
            echo "deb-src ${sec_uri} ${SOURCE_SECURITY_SUITE} main"
        fi
    } > "${tmp}/sources.list"
    info "fetching qemu=${DEBIAN_VERSION} with apt-get source (mirror ${main_uri})"
    local opts=(-o "Dir::Etc::SourceList=${tmp}/sources.list"
        -o "Dir::Etc::SourceParts=${tmp}/parts"
        -o "Dir::State::Lists=${tmp}/lists"
        -o "APT::Sandbox::User=root"
        -o "APT::Get::List-Cleanup=0")
    # A suite the mirror lacks fails the update but not the rest.
    apt-get "${opts[@]}" -q update >"${tmp}/log" 2>&1 || true
    if ! (cd "${tmp}" && apt-get "${opts[@]}" -q source --download-only \
        "qemu=${DEBIAN_VERSION}" >>"${tmp}/log" 2>&1) ||
        [[ ! -f "${tmp}/${TARBALL}" ]]; then
        grep -E '^(E|W):' "${tmp}/log" | tail -n 5 >&2 || true
        rm -rf "${tmp}"
        die "could not download ${TARBALL} with apt-get source; use --source FILE"
    fi
    mv "${tmp}/${TARBALL}" "${dest}"
    rm -rf "${tmp}"
}

# Print the path of a verified tarball, fetching it if needed.
cmd_fetch() {
    local cached="${CACHE_DIR}/${TARBALL}" src="${SOURCE}"
    if [[ -n "${src}" ]]; then
        [[ -d "${src}" ]] && src="${src}/${TARBALL}"
        [[ -f "${src}" ]] || die "upstream tarball ${src} does not exist"
        verify_tarball "${src}"
        if [[ ! -f "${cached}" ]] && mkdir -p "${CACHE_DIR}" 2>/dev/null &&
            cp "${src}" "${cached}.part" 2>/dev/null; then
            mv "${cached}.part" "${cached}"
        fi
        echo "${src}"
        return 0
    fi
    if [[ -f "${cached}" ]]; then
        verify_tarball "${cached}"
        echo "${cached}"
        return 0
    fi
    mkdir -p "${CACHE_DIR}"
    apt_source_download "${cached}.part" >&2
    verify_tarball "${cached}.part"
    mv "${cached}.part" "${cached}"
    echo "${cached}"
}

# ---------------------------------------------------------------- prepare

git_src() {
    git -C "$(src_dir)" "$@"
}

# Is the work tree free of uncommitted edits and unfinished git operations?
check_clean() {
    local src
    src=$(src_dir)
    if [[ -d "${src}/.git/rebase-apply" || -d "${src}/.git/rebase-merge" ]]; then
        die "${src} has a git am or rebase in progress: finish or abort it first"
    fi
    if [[ -n "$(git_src status --porcelain --untracked-files=normal)" ]]; then
        git_src status --short | head -n 20 >&2 || true
        die "${src} has uncommitted changes: commit them and './build.sh export', or discard them"
    fi
}

# Apply the series entries of this variant on top of the upstream commit.
apply_series() {
    local e n=0 total
    total=$(variant_entries | wc -l)
    while IFS= read -r e; do
        n=$((n + 1))
        if ! git_src am --quiet --committer-date-is-author-date \
            "${ROOT}/patches/${e}" >/dev/null 2>"$(variant_dir)/am.log"; then
            cat "$(variant_dir)/am.log" >&2
            git_src am --abort >/dev/null 2>&1 || true
            die "patch ${n}/${total} patches/${e} does not apply to QEMU ${QEMU_VERSION} (no fuzz allowed): refresh it"
        fi
    done < <(variant_entries)
    info "applied ${n} patch(es) to upstream ${QEMU_VERSION}"
}

create_tree() {
    local tarball="$1" src tmp
    src=$(src_dir)
    tmp="${src}.unpack"
    rm -rf "${tmp}"
    mkdir -p "${tmp}"
    info "unpacking ${tarball##*/}"
    tar --no-same-owner -C "${tmp}" -xf "${tarball}"
    [[ -f "${tmp}/qemu-${QEMU_VERSION}/VERSION" ]] ||
        die "${tarball} does not unpack to qemu-${QEMU_VERSION}/"
    mv "${tmp}/qemu-${QEMU_VERSION}" "${src}"
    rmdir "${tmp}"
    git_src init --quiet --initial-branch=fastio
    git_src config user.name "qemu-fastio build"
    git_src config user.email "build@qemu-fastio.invalid"
    git_src config core.autocrlf false
    git_src config gc.auto 0
    git_src add --all --force .
    GIT_AUTHOR_DATE="2000-01-01T00:00:00Z" GIT_COMMITTER_DATE="2000-01-01T00:00:00Z" \
        git_src commit --quiet --no-verify -m "QEMU ${QEMU_VERSION} (${TARBALL})"
    git_src tag upstream
    expected_sha256 > "${src}/.git/fastio-upstream"
}

# Does the work tree export to exactly the patches this variant applies?
tree_matches_patches() {
    local tmp rc=0 e
    tmp=$(mktemp -d)
    # A commit that export cannot place stops prepare, with its message.
    series_export --to "${tmp}" >/dev/null || { rm -rf "${tmp}"; exit 1; }
    if [[ ${rc} -eq 0 ]]; then
        diff -q <(variant_entries) <(cat "${tmp}/.entries") >/dev/null || rc=1
    fi
    if [[ ${rc} -eq 0 ]]; then
        while IFS= read -r e; do
            cmp -s "${ROOT}/patches/${e}" "${tmp}/${e}" || { rc=1; break; }
        done < <(variant_entries)
    fi
    rm -rf "${tmp}"
    return "${rc}"
}

# Commits in the work tree whose change is in no patch file of the series.
unexported_commits() {
    local known c id
    known=$(mktemp)
    while IFS= read -r e; do
        git_src patch-id --stable < "${ROOT}/patches/${e}" | cut -d' ' -f1
    done < <(series_entries) > "${known}"
    for c in $(git_src rev-list --reverse upstream..HEAD); do
        id=$(git_src show "${c}" | git_src patch-id --stable | cut -d' ' -f1)
        if [[ -n "${id}" ]] && ! grep -qxF "${id}" "${known}"; then
            git_src log -1 --format='%h %s' "${c}"
        fi
    done
    rm -f "${known}"
}

cmd_prepare() {
    local src stamp want tarball lost
    check_series
    src=$(src_dir)
    stamp="$(variant_dir)/prepared.stamp"
    want=$(inputs_digest)
    mkdir -p "$(variant_dir)"
    if [[ -d "${src}/.git" ]]; then
        check_clean
        if [[ "$(cat "${src}/.git/fastio-upstream" 2>/dev/null)" != "$(expected_sha256)" ]]; then
            die "${src} was made from another upstream tarball: move it away and run prepare again"
        fi
        if [[ -f "${stamp}" && "$(cat "${stamp}")" == "${want}" ]] &&
            [[ "$(git_src rev-parse HEAD)" == "$(cat "${stamp}.head" 2>/dev/null)" ]]; then
            info "work tree ${src#"${ROOT}"/} is up to date"
            return 0
        fi
        if tree_matches_patches; then
            info "work tree ${src#"${ROOT}"/} matches the series"
        else
            lost=$(unexported_commits)
            if [[ -n "${lost}" && ${RESET} -eq 0 ]]; then
                echo "${lost}" >&2
                die "these commits in ${src} are not in patches/: run './build.sh export' (or prepare --reset to drop them)"
            fi
            info "series changed: re-applying it to the work tree"
            git_src reset --quiet --hard upstream
            apply_series
        fi
    else
        [[ -e "${src}" ]] && die "${src} exists but is not a git work tree: remove it"
        tarball=$(cmd_fetch)
        create_tree "${tarball}"
        apply_series
    fi
    echo "${want}" > "${stamp}"
    git_src rev-parse HEAD > "${stamp}.head"
}

# ---------------------------------------------------------------- export

# ci/series-export.sh on the work tree, with the --group options given.
series_export() {
    FASTIO_EXPORT_NAME=build.sh "${ROOT}/ci/series-export.sh" \
        "${EXPORT_ARGS[@]}" "$@" "$(src_dir)"
}

cmd_export() {
    [[ -d "$(src_dir)/.git" ]] || die "no work tree at $(src_dir): run './build.sh prepare'"
    [[ "${VARIANT}" == fastio ]] || die "export works on the fastio tree only"
    check_clean
    series_export
    [[ " ${EXPORT_ARGS[*]} " != *" --check "* ]] || return 0
    # The tree now matches the series: record it so the next build reuses it.
    inputs_digest > "$(variant_dir)/prepared.stamp"
    git_src rev-parse HEAD > "$(variant_dir)/prepared.stamp.head"
}

# ---------------------------------------------------------------- build

build_roms() {
    local roms
    roms=$(roms_dir)
    mkdir -p "${roms}"
    cat > "${roms}/config.mak" <<EOF
TOPSRC_DIR=$(src_dir)
CC=cc
CCAS=cc
LD=ld
OBJCOPY=objcopy
PYTHON=/usr/bin/python3
EOF
    make -s -C "${roms}" -f "$(src_dir)/pc-bios/optionrom/Makefile" \
        >"${roms}/build.log" 2>&1 ||
        { cat "${roms}/build.log" >&2; die "building the x86 option ROMs failed"; }
}

configure_args() {
    local dirs
    dirs=$(IFS=,; echo "$(roms_dir),${FIRMWARE_DIRS[*]}")
    printf '%s\n' \
        --python=/usr/bin/python3 \
        --prefix="${PREFIX}" \
        --firmwarepath="share/qemu-firmware:$(IFS=:; echo "${FIRMWARE_DIRS[*]}")" \
        --target-list=x86_64-softmmu \
        --enable-kvm --enable-tcg \
        --enable-linux-aio --enable-linux-io-uring \
        --enable-seccomp --enable-cap-ng --enable-attr --enable-virtfs \
        --enable-tools --disable-docs --disable-download \
        --disable-guest-agent --disable-gtk --disable-sdl --disable-opengl \
        --enable-install-blobs \
        "-Dsystem_blob_dirs=${dirs}"
}

cmd_configure() {
    local obj args_file
    obj=$(obj_dir)
    args_file="$(variant_dir)/configure.args"
    if [[ -f "${obj}/build.ninja" ]] &&
        cmp -s <(configure_args) "${args_file}"; then
        return 0
    fi
    rm -rf "${obj}"
    mkdir -p "${obj}"
    info "configuring ${VARIANT} in ${obj#"${ROOT}"/}"
    ccache_env
    mapfile -t args < <(configure_args)
    if ! (cd "${obj}" && "$(src_dir)/configure" "${args[@]}" >configure.log 2>&1); then
        tail -n 30 "${obj}/configure.log" >&2
        die "configure failed (full log: ${obj}/configure.log)"
    fi
    configure_args > "${args_file}"
}

# ccache through Debian's masquerade folder: QEMU's configure names the
# compiler itself, so meson's own ccache detection never applies.
ccache_env() {
    if [[ -d /usr/lib/ccache ]]; then
        export PATH="/usr/lib/ccache:${PATH}"
    fi
    export CCACHE_BASEDIR="${ROOT}"
    export CCACHE_NOHASHDIR=true
    export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
    export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-6G}
}

cmd_compile() {
    local start end
    ccache_env
    start=$(date +%s)
    info "compiling ${TARGETS[*]} (${VARIANT}, -j${JOBS})"
    ninja -C "$(obj_dir)" -j "${JOBS}" "${TARGETS[@]}"
    end=$(date +%s)
    info "compiled in $((end - start)) s"
}

# Talk QMP to the binary on stdio; print the replies.
qmp_run() {
    local qemu="$1"
    shift
    printf '%s\n' '{"execute":"qmp_capabilities"}' \
        '{"execute":"query-qmp-schema"}' '{"execute":"quit"}' |
        timeout 60 "${qemu}" -nodefaults -display none -machine none \
            -qmp stdio "$@"
}

cmd_verify() {
    local obj qemu img tmp line kind name failed=0
    obj=$(obj_dir)
    qemu="${obj}/qemu-system-x86_64"
    img="${obj}/qemu-img"
    [[ -x "${qemu}" && -x "${img}" ]] || die "no built binaries in ${obj}: run './build.sh build'"
    tmp=$(mktemp -d /dev/shm/fastio-verify.XXXXXX 2>/dev/null || mktemp -d)
    # shellcheck disable=SC2064
    trap "rm -rf '${tmp}'" RETURN
    "${img}" create -q -f raw "${tmp}/disk" 1M
    "${qemu}" -device help > "${tmp}/devices"
    "${qemu}" -accel help > "${tmp}/accels"
    # The AIO engines and the sandbox libvirt uses must be compiled in.
    if ! qmp_run "${qemu}" \
        -sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny \
        -object iothread,id=io0 \
        -blockdev "driver=file,filename=${tmp}/disk,node-name=n,aio=native,cache.direct=on" \
        -blockdev "driver=file,filename=${tmp}/disk,node-name=u,aio=io_uring,cache.direct=on" \
        > "${tmp}/qmp" 2>&1; then
        cat "${tmp}/qmp" >&2
        die "${qemu} does not start with aio=native, aio=io_uring and -sandbox on"
    fi
    grep -q '"return"' "${tmp}/qmp" || die "no QMP reply from ${qemu}"
    for name in kvm tcg; do
        grep -qx "${name}" "${tmp}/accels" || { echo "missing accelerator ${name}" >&2; failed=1; }
    done
    # ci/features lists what the series must add: "device NAME" or "qmp NAME".
    # The stock baseline has none of it.
    if [[ "${VARIANT}" == stock ]]; then
        exec 3</dev/null
    else
        exec 3<"${ROOT}/ci/features"
    fi
    while read -r -u 3 kind name; do
        case "${kind}" in
        device)
            grep -q "^name \"${name}\"" "${tmp}/devices" ||
                { echo "build.sh: device ${name} missing from -device help" >&2; failed=1; } ;;
        qmp)
            grep -q "\"name\": \"${name}\"" "${tmp}/qmp" ||
                { echo "build.sh: ${name} missing from query-qmp-schema" >&2; failed=1; } ;;
        '' | '#'*) ;;
        *) die "ci/features: unknown kind '${kind}'" ;;
        esac
    done
    exec 3<&-
    [[ ${failed} -eq 0 ]] || die "${qemu} lacks features the series adds"
    info "verified ${qemu#"${ROOT}"/}: kvm, tcg, aio=native, aio=io_uring, seccomp, series features"
}

cmd_build() {
    local start
    start=$(date +%s)
    cmd_deps
    preflight
    cmd_prepare
    build_roms
    cmd_configure
    cmd_compile
    cmd_verify
    info "${VARIANT} build ready in $(($(date +%s) - start)) s"
    info "binary: $(obj_dir)/qemu-system-x86_64"
    info "libvirt: <emulator>$(obj_dir)/qemu-system-x86_64</emulator>"
}

cmd_install() {
    [[ -f "$(obj_dir)/build.ninja" ]] || die "nothing built yet: run './build.sh build'"
    ccache_env
    meson install -C "$(obj_dir)" --no-rebuild --tags runtime,bin,devel ||
        die "install into ${PREFIX} failed"
    info "libvirt: <emulator>${PREFIX}/bin/qemu-system-x86_64</emulator>"
}

cmd_env() {
    echo "FASTIO_VARIANT=${VARIANT}"
    echo "FASTIO_SRC=$(src_dir)"
    echo "FASTIO_OBJ=$(obj_dir)"
    echo "FASTIO_QEMU=$(obj_dir)/qemu-system-x86_64"
    echo "FASTIO_QEMU_IMG=$(obj_dir)/qemu-img"
}

cmd_clean() {
    rm -rf "$(variant_dir)"
    info "removed build/${VARIANT}"
}

main() {
    local cmd=build
    while [[ $# -gt 0 ]]; do
        case "$1" in
        --stock) VARIANT=stock ;;
        --source) SOURCE=${2:?--source needs a file}; shift ;;
        --source=*) SOURCE=${1#*=} ;;
        --no-deps) INSTALL_DEPS=0 ;;
        --group) EXPORT_ARGS+=(--group "${2:?--group needs a name}"); shift ;;
        --reset) RESET=1 ;;
        --check) EXPORT_ARGS+=(--check) ;;
        --prefix) PREFIX=${2:?--prefix needs a folder}; shift ;;
        -j) JOBS=${2:?-j needs a number}; shift ;;
        -j*) JOBS=${1#-j} ;;
        -h | --help) usage; exit 0 ;;
        build | deps | fetch | prepare | export | verify | install | env | clean) cmd=$1 ;;
        *) usage >&2; die "unknown argument '$1'" ;;
        esac
        shift
    done
    if [[ -n "${SOURCE}" && "${SOURCE}" != /* ]]; then
        SOURCE="$(pwd)/${SOURCE}"
    fi
    "cmd_${cmd}"
}

{ main "$@"; exit $?; }
