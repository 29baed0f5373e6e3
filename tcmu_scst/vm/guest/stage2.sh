#!/bin/sh
# Stage 2 of the test guest: PID 1 in the host's root (overlaid), after switch_root.
# Mounts what a normal system has, runs the job from the share, records its exit status and
# powers the VM off.  The host reads output and rc from the share.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb
SHARE=/mnt/vmshare
export TCMU_VM_SHARE=$SHARE

say() { echo "tcmu-scst-vm: $*"; }

mount -t configfs configfs /sys/kernel/config || say "cannot mount configfs"
mount -t tmpfs -o mode=0755 tmpfs /run
# /tmp stays the host's (under the overlay): the project may be checked out there.
mkdir -p /dev/pts /dev/shm /run/lock /var/log /var/run
mount -t devpts -o gid=5,mode=620 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
hostname tcmu-scst-vm 2>/dev/null

. "$SHARE/env.sh"
say "running job"
if cd "${TCMU_VM_CWD:-/}"; then
    /bin/bash "$SHARE/job.sh" > "$SHARE/output" 2>&1 < /dev/null
    rc=$?
else
    echo "tcmu-scst-vm: cannot enter $TCMU_VM_CWD in the guest" > "$SHARE/output"
    rc=125
fi
echo "$rc" > "$SHARE/rc.tmp" && mv "$SHARE/rc.tmp" "$SHARE/rc"
say "job exited with $rc"
sync
echo o > /proc/sysrq-trigger
sleep 10
