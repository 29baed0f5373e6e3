#!/bin/busybox sh
# Stage 1 of the test guest, run by the kernel from the initramfs.
# Loads the target stack's modules, builds the root (the host's / read-only over 9p under a
# tmpfs overlay), mounts the module tree and the job share, then switch_roots into stage 2.
/bin/busybox --install -s /bin
export PATH=/bin

say() { echo "tcmu-scst-vm: $*"; }
die() { say "FATAL: $*"; echo o > /proc/sysrq-trigger; sleep 5; exit 1; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo 1 > /proc/sys/kernel/sysrq

say "loading modules"
while read -r module arguments; do
    insmod "/modules/$module.ko" $arguments || say "insmod $module failed"
done < /etc/modules.list

ip link set lo up || say "cannot bring lo up"

NINEP="trans=virtio,version=9p2000.L,msize=262144"
mkdir -p /mnt/lower /mnt/rw /newroot
mount -t 9p -o "$NINEP,ro,cache=loose" hostroot /mnt/lower || die "cannot mount the host root over 9p"
mount -t tmpfs -o mode=0755 tmpfs /mnt/rw || die "cannot mount the overlay's tmpfs"
mkdir -p /mnt/rw/upper /mnt/rw/work
mount -t overlay overlay -o lowerdir=/mnt/lower,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work /newroot \
    || die "cannot mount the overlay root"

mkdir -p /newroot/lib/modules /newroot/mnt/vmshare /newroot/etc/target/pr
mount -t 9p -o "$NINEP,ro" modules /newroot/lib/modules || die "cannot mount the module tree"
mount -t 9p -o "$NINEP" vmshare /newroot/mnt/vmshare || die "cannot mount the job share"

for fs in dev proc sys; do
    mount --move "/$fs" "/newroot/$fs" || die "cannot move /$fs into the new root"
done

say "entering stage 2"
exec switch_root /newroot /bin/sh /mnt/vmshare/stage2.sh
