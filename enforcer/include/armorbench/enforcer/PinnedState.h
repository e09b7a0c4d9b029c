// Enforcement pinned on a bpf filesystem by daemons that may have died: each daemon pins its
// links and maps in a directory of its own under a pin root, named after its pid and start time
// (`<root>/<pid>-<start ticks>-<pid namespace>`), so that a successor can tell a crashed
// predecessor's state (take it over: read what it decided while nobody listened, then release it)
// from a live daemon's (leave it alone).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "armorbench/enforcer/Enforcer.h"

namespace armorbench::enforcer {

struct PinnedInstance {
  std::filesystem::path dir;
  pid_t pid = 0;
  bool owner_alive = false;  // the daemon that pinned it still runs (not a zombie), or may
  bool foreign = false;      // pinned from another pid namespace: whether it runs is unknown
};

// The directory this process pins into under `root`: <pid>-<start ticks>-<pid namespace inode>.
std::filesystem::path own_pin_dir(const std::filesystem::path& root);

// The instances under `root`: plain directories named as own_pin_dir() names them that hold a
// pinned rule map (anything else is not ours: left out, never followed through a link).
std::vector<PinnedInstance> pinned_instances(const std::filesystem::path& root);

// The generation of the rule set in force in a pinned instance; 0 when it cannot be read.
std::uint32_t pinned_generation(const std::filesystem::path& instance_dir);

// What a released instance had recorded that no daemon had read.
struct ReleasedInstance {
  std::filesystem::path dir;
  std::size_t links = 0;      // links unpinned (detached, unless something else holds them)
  std::uint64_t events = 0;   // events read from its ring buffer, handed to the sink
  std::uint64_t dropped = 0;  // events its programs could not send (ring full, rate limit)
};

// Releases a (dead) instance: unpins its links, so its programs detach, then hands every event
// still in its ring buffer to `sink` (the rule each names is known only by id and generation:
// Event::rule has just the id), and removes the directory.
ReleasedInstance release_pinned(const std::filesystem::path& instance_dir,
                                const std::function<void(const Event&)>& sink);

}  // namespace armorbench::enforcer
