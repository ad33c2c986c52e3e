#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# /init of the qemu-fastio test guest (busybox sh).  Mounts the kernel file
# systems, loads the modules listed in /etc/fastio/modules, runs the
# scenario named by fastio.scenario=NAME on the kernel command line
# (/scenarios/NAME.sh) between markers on the console, then powers off.
#
# Console protocol (read by tests/guest/run.sh):
#   FASTIO-INIT <kernel release>     /init started (the accelerator probe)
#   FASTIO-BEGIN <name>              the scenario's output follows
#   ... FASTIO-RESULT PASS <name> | FASTIO-RESULT FAIL <name>: <reason>
#   FASTIO-END <name> rc=<status>    the scenario finished
# fastio.scenario=probe stops after FASTIO-INIT.

/bin/busybox --install -s /bin
PATH=/bin:/usr/bin
export PATH

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run

echo "FASTIO-INIT $(uname -r)"

scenario=""
read -r cmdline < /proc/cmdline
for arg in ${cmdline}; do
    case "${arg}" in
    fastio.scenario=*) scenario="${arg#fastio.scenario=}" ;;
    esac
done

finish() {
    sync
    poweroff -f
    # Not reached; if poweroff fails, make the kernel panic (panic=-1 and
    # QEMU's -no-reboot then end the run).
    exit 1
}

if [ -z "${scenario}" ] || [ "${scenario}" = probe ]; then
    finish
fi

while read -r mod; do
    insmod "/lib/modules/$(uname -r)/${mod}" ||
        echo "FASTIO-WARN insmod ${mod} failed"
done < /etc/fastio/modules

# Keep kernel messages off the console while the scenario runs, so that
# they cannot split a result line; they are printed after FASTIO-END.
echo 1 > /proc/sys/kernel/printk
dmesg -c > /dev/null

echo "FASTIO-BEGIN ${scenario}"
rc=0
if [ -f "/scenarios/${scenario}.sh" ]; then
    sh "/scenarios/${scenario}.sh" 2>&1 || rc=$?
else
    echo "FASTIO-RESULT FAIL ${scenario}: no /scenarios/${scenario}.sh in the initramfs"
    rc=1
fi
echo "FASTIO-END ${scenario} rc=${rc}"
dmesg | sed 's/^/kmsg: /'
finish
