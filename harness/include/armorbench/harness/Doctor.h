// Host probe (`armorbench doctor`, and the `host` block of every results.json): what this
// machine can run, decided by trying (loading a BPF program, asking libvirt), not by reading
// configuration.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace armorbench {

struct HostProbeOptions {
  bool libvirt = true;  // connect to qemu:///system and read domain capabilities
};

struct Check {
  std::string name;  // e.g. "bpf.lsm", "runtime.runc"
  bool ok = false;
  std::string detail;  // version, path, or why not
};

class HostFacts {
 public:
  std::vector<Check> checks;
  nlohmann::json to_json() const;
  const Check* find(const std::string& name) const;
  // Why `feature` (see known_features()) is unavailable here, or nullopt when it is available.
  std::optional<std::string> missing(const std::string& feature) const;
  // Text table for the terminal.
  std::string table() const;
};

HostFacts probe_host(const HostProbeOptions& options);

}  // namespace armorbench
