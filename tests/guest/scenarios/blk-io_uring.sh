# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=sh
#
# Guest side of blk-io_uring: the host gives /dev/vda as virtio-blk-pci on an
# iothread, a raw file opened with aio=io_uring and O_DIRECT, discard=unmap.

# shellcheck source=tests/guest/scenarios/lib-blk.sh
. /scenarios/lib-blk.sh
blk_test blk-io_uring /dev/vda
