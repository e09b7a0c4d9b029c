#!/bin/sh
# /init of the ArmorBench micro-VM initramfs (busybox sh). Kata-style: load the virtio drivers,
# mount the host's root read-only over 9p (tag `hostroot`), give it fresh kernel filesystems,
# then switch_root into it and exec the guest agent (armorbench-guest-agent) as PID 1.
#
# Kernel command line understood here (everything after ` -- ` becomes the agent's argv[1..]):
#   armorbench.agent=PATH        agent executable inside the host root (default: a rescue shell)
#   armorbench.ports=a,b         virtio-serial port names to wait for (default armorbench.agent)
#   armorbench.9pcache=MODE      9p cache mode for hostroot (default loose: root is read-only)
#   armorbench.msize=BYTES       9p msize (default 524288)
#   armorbench.ip=ADDR/LEN       guest address when a virtio NIC exists (default 10.0.2.15/24)
#   armorbench.gw=ADDR           default route (default 10.0.2.2, the host under slirp)
#   armorbench.debug=1           drop to a busybox shell in the initramfs instead of switching
#   armorbench.root=DEVICE       root from DEVICE (ext4, read-only: a snapshot's root image, see
#                                vms/README.md "Snapshots") instead of the 9p host root, which
#                                the agent mounts later (QEMU cannot save a guest with 9p mounted)
export PATH=/bin
umask 022

log() {
    read -r up _ </proc/uptime 2>/dev/null || up=?
    echo "armorbench-init[$up]: $*" >/dev/console
}

rescue() {
    log "RESCUE: $*; starting a shell on the console"
    exec setsid cttyhack sh
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

AGENT=/bin/sh
PORTS=armorbench.agent
CACHE=loose
MSIZE=524288
IPADDR=10.0.2.15/24
GW=10.0.2.2
DEBUG=0
ROOTDEV=
for w in $(cat /proc/cmdline); do
    case "$w" in
        --) break ;;
        armorbench.agent=*) AGENT=${w#*=} ;;
        armorbench.ports=*) PORTS=${w#*=} ;;
        armorbench.9pcache=*) CACHE=${w#*=} ;;
        armorbench.msize=*) MSIZE=${w#*=} ;;
        armorbench.ip=*) IPADDR=${w#*=} ;;
        armorbench.gw=*) GW=${w#*=} ;;
        armorbench.debug=*) DEBUG=${w#*=} ;;
        armorbench.root=*) ROOTDEV=${w#*=} ;;
    esac
done

# Order matters: busybox insmod does not resolve dependencies (see modules.dep).
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci \
         virtio_console netfs fscache 9pnet 9pnet_virtio 9p; do
    insmod "/lib/modules/$m.ko" || log "insmod $m failed"
done

if [ -n "$ROOTDEV" ]; then
    for m in virtio_blk crc16 mbcache jbd2 crc32c_generic ext4; do
        insmod "/lib/modules/$m.ko" || log "insmod $m failed"
    done
fi

# Networking only when the domain has a virtio NIC (virtio device id 1).
if grep -qx 0x0001 /sys/bus/virtio/devices/*/device 2>/dev/null; then
    for m in failover net_failover virtio_net; do
        insmod "/lib/modules/$m.ko" || log "insmod $m failed"
    done
fi
log "modules loaded"

ip link set lo up
for i in /sys/class/net/*; do
    dev=${i##*/}
    [ "$dev" = lo ] && continue
    ip link set "$dev" up && ip addr add "$IPADDR" dev "$dev" && ip route add default via "$GW" &&
        log "net: $dev $IPADDR via $GW"
    break
done

# hostroot is a must; retry because the 9p transport can register a moment after insmod.
# (A snapshot's root image instead, when armorbench.root names its device.)
mkdir -p /newroot
i=0
if [ -n "$ROOTDEV" ]; then
    until mount -t ext4 -o ro,noload "$ROOTDEV" /newroot 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -le 50 ] || rescue "cannot mount the root image $ROOTDEV"
        sleep 0.1
    done
    log "root image $ROOTDEV mounted after $i retries"
else
    until mount -t 9p -o "trans=virtio,version=9p2000.L,ro,msize=$MSIZE,cache=$CACHE" hostroot /newroot 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -le 50 ] || rescue "cannot mount 9p tag hostroot"
        sleep 0.1
    done
    log "hostroot mounted after $i retries"
fi

R=/newroot
mount -t proc -o nosuid,nodev,noexec proc $R/proc
mount -t sysfs -o nosuid,nodev,noexec sysfs $R/sys
mount -t devtmpfs -o nosuid devtmpfs $R/dev
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts -o nosuid,noexec,gid=5,mode=620,ptmxmode=666 devpts $R/dev/pts
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs $R/dev/shm
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs $R/tmp
mount -t tmpfs -o nosuid,nodev,mode=755 tmpfs $R/run
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 $R/sys/fs/cgroup
mount -t bpf -o mode=700 bpf $R/sys/fs/bpf
mount -t tracefs tracefs $R/sys/kernel/tracing
mount -t securityfs securityfs $R/sys/kernel/security

# Optional writable per-VM share (tag `scratch`) at /run/armorbench/scratch.
mkdir -p $R/run/armorbench
for t in /sys/bus/virtio/drivers/9pnet_virtio/virtio*/mount_tag; do
    [ -e "$t" ] || continue
    if [ "$(tr -d '\000' <"$t")" = scratch ]; then
        mkdir -p $R/run/armorbench/scratch
        mount -t 9p -o "trans=virtio,version=9p2000.L,rw,msize=$MSIZE" scratch $R/run/armorbench/scratch &&
            log "scratch mounted"
    fi
done

# Ports get their names from control messages QEMU sends after the driver is up, so wait
# (bounded) until every requested name is there, then publish /dev/virtio-ports/<name> like udev.
i=0
while :; do
    missing=
    for want in $(echo "$PORTS" | tr , ' '); do
        found=
        for n in /sys/class/virtio-ports/*/name; do
            [ -e "$n" ] && [ "$(cat "$n")" = "$want" ] && found=1 && break
        done
        [ -n "$found" ] || missing="$missing $want"
    done
    [ -z "$missing" ] && break
    i=$((i + 1))
    if [ "$i" -gt 100 ]; then log "ports missing after 10 s:$missing"; break; fi
    sleep 0.1
done
mkdir -p $R/dev/virtio-ports
for n in /sys/class/virtio-ports/*/name; do
    [ -e "$n" ] || continue
    p=${n%/name}
    p=${p##*/}
    name=$(cat "$n")
    [ -n "$name" ] && ln -sf "../$p" "$R/dev/virtio-ports/$name" && log "port $name = /dev/$p"
done

hostname armorbench-guest
[ "$DEBUG" = 1 ] && rescue "armorbench.debug=1"

[ -x "$R$AGENT" ] || { log "agent $AGENT not executable in hostroot, using /bin/sh"; AGENT=/bin/sh; set --; }
umount /proc /sys /dev 2>/dev/null
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
echo "armorbench-init: exec $AGENT $*" >$R/dev/console
# switch_root empties the initramfs (frees its memory), moves hostroot to / and execs the agent
# as PID 1, so the agent sees a normal root, not a chroot it could climb out of.
exec switch_root $R "$AGENT" "$@" <$R/dev/console >$R/dev/console 2>&1
