// OCI runtime bundles (config.json) written by the harness for runc and crun.
// The rootfs is either the host root bound read-only (no image to build: python3 and torch come
// from the host) or a directory; /tmp and /run are per-container scratch directories the harness
// reads back to observe what the workload did.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "armorbench/harness/Scenario.h"

namespace armorbench {

struct BindMount {
  std::filesystem::path source;  // on the host
  std::string destination;       // inside the container
  bool read_only = true;
};

struct BundleSpec {
  std::string container_id;
  std::filesystem::path rootfs;  // absolute
  std::vector<std::string> args;
  std::vector<std::string> env;       // KEY=VALUE, added to a minimal default
  std::filesystem::path scratch_tmp;  // bound rw at /tmp
  std::filesystem::path scratch_run;  // bound rw at /run
  std::vector<BindMount> binds;
  NetworkMode network = NetworkMode::kHost;
  bool host_pid_namespace = false;  // a sibling that can see host pids (kubernetes hostPID)
  std::vector<std::string> extra_capabilities;  // e.g. CAP_SYS_PTRACE
  std::optional<nlohmann::json> seccomp;        // linux.seccomp; none: unconfined
  ResourceLimits limits;
  std::string cgroups_path;  // e.g. /armorbench/<container_id>
};

nlohmann::json make_oci_config(const BundleSpec& spec);

// Writes <dir>/config.json; the directory must exist.
void write_bundle(const std::filesystem::path& dir, const BundleSpec& spec);

}  // namespace armorbench
