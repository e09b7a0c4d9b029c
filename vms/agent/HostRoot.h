// What the agent of a restored snapshot guest does before serving a case (the resume op): the
// guest was saved while its root was the snapshot's root image (QEMU refuses to save a guest with
// a 9p share mounted), so the host root is mounted now and becomes the root of the agent's mount
// namespace and of the warm workload's, with the kernel filesystems and the /tmp, /run and /dev
// that init.sh mounted moved along. Afterwards both see what a cold-booted guest sees.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace armorbench::vms::agent {

// Where init.sh mounted the root image; the host root is mounted here (in each namespace) and
// pivoted to. Part of the root image (build-snapshot-root.sh).
inline constexpr const char* kNewRootDir = "/newroot";

// Mounts the 9p tag `hostroot` read-only at kNewRootDir, moves /proc, /sys, /dev, /tmp and /run
// into it and pivots the calling process's mount namespace onto it. Throws an environment Error.
void adopt_host_root();

// The same for the mount namespace of `pid` (the warm workload, confined in its own namespace),
// done by a forked helper that joins it: a clone of the agent's (new) root mount, then the
// namespace's own /proc (of its pid namespace), /sys (cgroupfs read-only), /dev, /tmp and /run.
// Call after adopt_host_root().
void adopt_host_root_in(pid_t pid);

// The restored guest's wall clock is the saved one's: set it to the host's.
void set_wall_clock(std::int64_t unix_time_ns);

// Every restore of a snapshot starts from the same CRNG state: mix in the host's bytes and force
// a reseed, so that no two cases draw the same "random" numbers.
void reseed_entropy(const std::string& bytes);

}  // namespace armorbench::vms::agent
