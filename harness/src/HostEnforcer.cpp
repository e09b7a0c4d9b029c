// HostEnforcer: the bundled enforcer library loaded into the host kernel.
#include "armorbench/harness/HostEnforcer.h"

#include "armorbench/base/Error.h"

namespace armorbench {

struct HostEnforcer::Impl {
  std::string backend;
};

HostEnforcer::HostEnforcer(const EnforcementPlan&, std::filesystem::path) {
  throw environment_error("the enforcer is not built yet");
}
HostEnforcer::~HostEnforcer() = default;
const std::string& HostEnforcer::backend() const { return impl_->backend; }
void HostEnforcer::scope(std::uint64_t, const std::filesystem::path&, pid_t, bool) {}
void HostEnforcer::unscope(std::uint64_t) {}
std::vector<nlohmann::json> HostEnforcer::events_for(std::uint64_t) { return {}; }
std::vector<std::string> HostEnforcer::executed_in(std::uint64_t) { return {}; }

}  // namespace armorbench
