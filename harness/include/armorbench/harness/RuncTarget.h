// The runc/crun target: one OCI container per case run, created from a bundle the harness
// writes, run through Boost.Process, in its own cgroup, deleted on every exit path.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "armorbench/harness/Target.h"

namespace armorbench {

class HostRootBind;

class RuncTarget final : public Target {
 public:
  RuncTarget(TargetSpec spec, TargetContext context);
  ~RuncTarget() override;

  const TargetSpec& spec() const override { return spec_; }
  std::optional<std::string> unavailable_reason() override;
  bool watches_exec() const override { return true; }
  // Host network (or only lo): the harness's listeners on the host loopback are reachable.
  std::string host_address() const override { return "127.0.0.1"; }
  std::unique_ptr<Sandbox> launch(const WorkloadSpec& workload, const EnforcementPlan& enforcement,
                                  bool watch_exec) override;

  // "runc" or "crun": the OCI runtime binary this target drives.
  const std::string& runtime() const { return runtime_; }

 private:
  friend class RuncSandbox;
  const std::filesystem::path& rootfs();

  TargetSpec spec_;
  TargetContext context_;
  std::string runtime_;
  std::string runtime_path_;
  std::string runtime_version_;
  std::unique_ptr<HostRootBind> host_root_;
  std::filesystem::path rootfs_dir_;
  int sandboxes_created_ = 0;
};

}  // namespace armorbench
