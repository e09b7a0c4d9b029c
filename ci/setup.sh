#!/usr/bin/env bash
# Prepares a fresh Debian 12 machine for ArmorBench: packages, kernel filesystems, daemons.
# Idempotent: every step checks before it acts, so CI and developers can run it every time.
set -euo pipefail

log() { printf 'setup: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  log "must run as root (installs packages, mounts tracefs, starts libvirtd)"
  exit 3
fi

# Build, runtime, model and VM dependencies, and what the report tests check with (Chromium renders
# the HTML report, python3-jsonschema validates SARIF and OSCAL); all from Debian's archive (see
# README "Dependencies").
packages=(
  build-essential cmake pkg-config git
  clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev
  libboost-dev libboost-filesystem-dev libtomlplusplus-dev libyaml-cpp-dev nlohmann-json3-dev
  libgtest-dev libbenchmark-dev
  libvirt-dev libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients libxml2-utils
  qemu-system-x86 busybox-static cpio linux-image-amd64
  runc crun
  python3-torch python3-numpy python3-sklearn python3-joblib python3-xgboost python3-onnx
  libssl-dev openssl
  chromium python3-jsonschema
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Kernel filesystems the enforcer and the doctor need (HOST-NOTES: not mounted on these hosts).
mount_if_absent() { # type target
  if ! mountpoint -q "$2"; then
    mkdir -p "$2"
    mount -t "$1" "$1" "$2"
    log "mounted $1 on $2"
  fi
}
mount_if_absent tracefs /sys/kernel/tracing
mount_if_absent securityfs /sys/kernel/security
mount_if_absent bpf /sys/fs/bpf

# cgroup v2: the enforcer scopes containers by their v2 cgroup id. Hybrid hosts mount it at
# /sys/fs/cgroup/unified; a pure v2 host has it at /sys/fs/cgroup.
if ! grep -q ' cgroup2 ' /proc/mounts; then
  mount_if_absent cgroup2 /sys/fs/cgroup/unified
fi

# crun refuses a hybrid host whose cgroup v2 root still holds controllers ("drop all controllers
# from cgroupv2"). On a normal hybrid host systemd mounts every controller on v1; do the same for
# any controller left on v2 (here: hugetlb).
if [ -f /sys/fs/cgroup/unified/cgroup.controllers ]; then
  for controller in $(cat /sys/fs/cgroup/unified/cgroup.controllers); do
    if ! mountpoint -q "/sys/fs/cgroup/$controller"; then
      mkdir -p "/sys/fs/cgroup/$controller"
      mount -t cgroup -o "$controller" cgroup "/sys/fs/cgroup/$controller"
      log "mounted the $controller cgroup v1 hierarchy (crun needs v2 without controllers)"
    fi
  done
fi

# libvirtd for the kata and cvm targets (HOST-NOTES: users, directories, virtlogd, then libvirtd).
getent group kvm >/dev/null || groupadd -r kvm
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
getent passwd libvirt-qemu >/dev/null ||
  useradd -r -g libvirt-qemu -G kvm -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
mkdir -p /var/log/libvirt/qemu /var/lib/libvirt/qemu /var/run/libvirt /var/cache/libvirt
if ! pgrep -x virtlogd >/dev/null; then
  virtlogd -d
  log "started virtlogd"
fi
if ! pgrep -x libvirtd >/dev/null; then
  libvirtd -d
  log "started libvirtd"
fi
for _ in $(seq 1 50); do
  [ -S /var/run/libvirt/libvirt-sock ] && break
  sleep 0.1 # libvirtd has no readiness pipe when daemonised; its socket appearing is the signal
done
[ -S /var/run/libvirt/libvirt-sock ] || log "warning: libvirtd socket did not appear"

log "ok"
