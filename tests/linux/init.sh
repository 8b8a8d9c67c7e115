#!/bin/busybox sh
# SPDX-License-Identifier: BSD-2-Clause
# /init of the tests' Linux VM initramfs (packed by tests/linuxvm.py).
# Mounts the host root over 9p under a tmpfs overlay, chroots, runs the script
# from the work share and records its status there. Not a general-purpose init.

/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

say() { echo "lvm-init: $*" > /dev/console; }
# Any failure before the script runs must still end the VM at once (the host
# side then reports the console); never fall through to a shell.
die() { say "FATAL: $*"; poweroff -f; sleep 5; echo o > /proc/sysrq-trigger; }

for m in $(cat /modules.list); do
    insmod "/modules/$m" || die "insmod $m failed"
done

mkdir -p /lower /rw /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /lower \
    || die "cannot mount the host root share"
mount -t tmpfs -o mode=0755 tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot \
    || die "cannot mount the overlay root"

R=/newroot
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
# The host's /dev and /run came through 9p; cover them with fresh ones.
# /tmp stays the overlay: host files under /tmp (a checkout there, as CI may
# use) must stay visible, and writes still land in the RAM upper layer.
mount -o bind /dev $R/dev
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts $R/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $R/dev/shm
mount -t tmpfs -o mode=0755 tmpfs $R/run
mkdir -p $R/lvmwork
# cache=none: the host polls these files while the VM runs, and the guest
# must see files the host drops in.
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=none lvmwork $R/lvmwork \
    || die "cannot mount the work share"

W=$R/lvmwork/.lvm
[ -f $W/run ] || die "no script in the work share"
MODULES=
[ -f $W/config ] && . $W/config

cat /proc/uptime > $W/started
say "script start (uptime $(cut -d' ' -f1 /proc/uptime) s)"
# env -i: nothing from this busybox environment (or a pyenv shim on the host
# PATH) leaks into the script.
chroot $R /usr/bin/env -i \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root TERM=dumb LANG=C.UTF-8 LVM_WORK=/lvmwork LVM_MODULES="$MODULES" \
    /bin/sh -c 'cd /lvmwork || exit 125
        for m in $LVM_MODULES; do modprobe "$m" || { echo "lvm: modprobe $m failed"; exit 124; }; done
        exec /lvmwork/.lvm/run' < /dev/null > /dev/console 2>&1
rc=$?
echo $rc > $W/status.tmp && mv $W/status.tmp $W/status
say "script exit $rc (uptime $(cut -d' ' -f1 /proc/uptime) s)"
sync
poweroff -f
