#!/bin/sh
# Builds the ArmorBench micro-VM guest from Debian's packaged kernel and busybox:
#   OUTDIR/vmlinux            the kernel's uncompressed ELF: QEMU boots it through the PVH entry,
#                             ~3.5 s faster under TCG than the bzImage (no real-mode setup and no
#                             in-guest decompression); it also carries the guest's .BTF
#   OUTDIR/vmlinuz            the bzImage, copied (for firmware that cannot boot an ELF)
#   OUTDIR/vmlinux.h          the guest kernel's BTF as C (bpftool), for guest-targeted BPF
#   OUTDIR/initramfs.cpio.gz  busybox-static + virtio/9p/virtio_net modules (and virtio_blk/ext4
#                             for a snapshot's root image) + init.sh as /init
#   OUTDIR/guest.sha256       sha256 over vmlinuz, vmlinux and initramfs.cpio.gz
# The output is byte-for-byte reproducible for the same inputs. The last stdout line is
#   guest-sha256 <hex>
#
# Usage: build-guest.sh OUTDIR [KERNEL_VERSION]     build (default: newest /lib/modules/6.1.*)
#        build-guest.sh --inputs [KERNEL_VERSION]   print "kernel-version V", then every input
#                                                   file, one absolute path per line
# Caching is the caller's job (ensure_guest_image hashes the --inputs files): this script always
# builds. Exit codes: 0 ok, 3 something it needs is not installed.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
SELF=$HERE/build-guest.sh
INIT=$HERE/init.sh
EXTRACT=$HERE/extract-vmlinux.py
PY=/usr/bin/python3
BUSYBOX=/bin/busybox

MODE=build
if [ "${1:-}" = --inputs ]; then
    MODE=inputs
    shift
else
    OUT=${1:?usage: build-guest.sh OUTDIR [KERNEL_VERSION] | --inputs [KERNEL_VERSION]}
    shift
fi

KVER=${1:-$(ls -1d /lib/modules/6.1.* 2>/dev/null | sed 's#.*/##' | sort -V | tail -n 1)}
[ -n "$KVER" ] || { echo "no /lib/modules/6.1.* (install linux-image-amd64)" >&2; exit 3; }
KERNEL=/boot/vmlinuz-$KVER
MODDIR=/lib/modules/$KVER
for f in "$KERNEL" "$MODDIR/modules.dep" "$BUSYBOX" "$INIT" "$EXTRACT" "$PY"; do
    [ -e "$f" ] || { echo "missing $f" >&2; exit 3; }
done

# Load order for busybox insmod, which resolves no dependencies; init.sh loads them in this order.
MODULES="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_console
netfs fscache 9pnet 9pnet_virtio 9p failover net_failover virtio_net
virtio_blk crc16 mbcache jbd2 crc32c_generic ext4"

# A module's file, resolved through modules.dep (which lists kernel/... relative paths).
modpath() {
    p=$(grep -E "(^|/)$1\.ko(\.xz|\.zst|\.gz)?:" "$MODDIR/modules.dep" | head -n 1 | cut -d: -f1)
    [ -n "$p" ] || { echo "module $1 not in $MODDIR/modules.dep" >&2; exit 3; }
    echo "$MODDIR/$p"
}

if [ "$MODE" = inputs ]; then
    echo "kernel-version $KVER"
    for f in "$SELF" "$INIT" "$EXTRACT" "$KERNEL" "$BUSYBOX"; do echo "$f"; done
    for m in $MODULES; do modpath "$m"; done
    exit 0
fi

command -v cpio >/dev/null || { echo "cpio not installed" >&2; exit 3; }
for m in $MODULES; do modpath "$m" >/dev/null; done

mkdir -p "$OUT"
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/armorbench-initramfs.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT INT TERM

mkdir -p "$STAGE/bin" "$STAGE/dev" "$STAGE/proc" "$STAGE/sys" "$STAGE/newroot" "$STAGE/lib/modules"
cp "$BUSYBOX" "$STAGE/bin/busybox"
for a in $("$BUSYBOX" --list | LC_ALL=C sort); do
    [ "$a" = busybox ] || ln -s busybox "$STAGE/bin/$a"
done
install -m 0755 "$INIT" "$STAGE/init"
mknod -m 600 "$STAGE/dev/console" c 5 1
mknod -m 666 "$STAGE/dev/null" c 1 3

for m in $MODULES; do
    src=$(modpath "$m")
    dst=$STAGE/lib/modules/$m.ko
    case "$src" in
        *.ko) cp "$src" "$dst" ;;
        *.ko.xz) xz -dc "$src" >"$dst" ;;
        *.ko.zst) zstd -qdc "$src" >"$dst" ;;
        *.ko.gz) gzip -dc "$src" >"$dst" ;;
    esac
    chmod 0644 "$dst"
done

# Reproducibility: fixed mtimes, sorted list, uid/gid 0, renumbered inodes, gzip without name/time.
find "$STAGE" -exec touch -h -d @0 {} +
(cd "$STAGE" && find . -mindepth 1 | LC_ALL=C sort |
    cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -9 -n >"$OUT/initramfs.cpio.gz.tmp"
"$PY" "$EXTRACT" "$KERNEL" "$OUT/vmlinux.tmp" >/dev/null
cp "$KERNEL" "$OUT/vmlinuz.tmp"
# vmlinux.h of the GUEST kernel (6.1), not the host's: CO-RE programs meant for the guest build
# with it. Optional: bpftool may be absent where only the image is needed.
if command -v bpftool >/dev/null; then
    bpftool btf dump file "$OUT/vmlinux.tmp" format c >"$OUT/vmlinux.h.tmp" &&
        mv "$OUT/vmlinux.h.tmp" "$OUT/vmlinux.h"
fi
for f in vmlinuz vmlinux initramfs.cpio.gz; do
    touch -d @0 "$OUT/$f.tmp"
    chmod 0644 "$OUT/$f.tmp"
    mv "$OUT/$f.tmp" "$OUT/$f"
done

HASH=$(cat "$OUT/vmlinuz" "$OUT/vmlinux" "$OUT/initramfs.cpio.gz" | sha256sum | cut -d' ' -f1)
echo "$HASH" >"$OUT/guest.sha256"
echo "kernel $KVER, initramfs $(wc -c <"$OUT/initramfs.cpio.gz") bytes"
echo "guest-sha256 $HASH"
