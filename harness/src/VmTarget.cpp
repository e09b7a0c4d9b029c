// VM targets through libvirt.
#include "armorbench/harness/VmTarget.h"

#include "armorbench/base/Error.h"

namespace armorbench {
namespace {

class PendingVmTarget final : public Target {
 public:
  explicit PendingVmTarget(TargetSpec spec) : spec_(std::move(spec)) {}
  const TargetSpec& spec() const override { return spec_; }
  std::optional<std::string> unavailable_reason() override {
    return "VM targets are not built yet";
  }
  bool watches_exec() const override { return false; }
  std::unique_ptr<Sandbox> launch(const WorkloadSpec&, const EnforcementPlan&, bool) override {
    throw environment_error("VM targets are not built yet");
  }

 private:
  TargetSpec spec_;
};

}  // namespace

std::unique_ptr<Target> make_vm_target(const TargetSpec& spec, const TargetContext&) {
  return std::make_unique<PendingVmTarget>(spec);
}

}  // namespace armorbench
