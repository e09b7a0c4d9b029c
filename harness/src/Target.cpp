// The target factory (the one place that knows which class implements which target kind) and
// what every sandbox derives from its enforcer report.
#include "armorbench/harness/Target.h"

#include <map>
#include <utility>

#include "armorbench/base/Files.h"
#include "armorbench/harness/RuncTarget.h"
#include "armorbench/harness/VmTarget.h"

namespace armorbench {

std::unique_ptr<Target> make_target(const TargetSpec& spec, const TargetContext& context) {
  switch (spec.kind) {
    case TargetKind::kRunc:
    case TargetKind::kCrun:
      return std::make_unique<RuncTarget>(spec, context);
    case TargetKind::kKata:
    case TargetKind::kCvm:
      return make_vm_target(spec, context);
  }
  return nullptr;
}

std::vector<attacks::ExecutedProgram> executed_programs_in(const enforcer::EnforcerReport& report) {
  using enforcer::EventAction;
  // The tracepoint backend kills an exec it refuses with SIGKILL: the new image is mapped (the
  // watch sees it) but the process dies before its first instruction. A kill is that exec's
  // when it is of the same process and the same program (a shell that later execs something
  // else, in the same process, did run).

  std::map<std::pair<std::uint32_t, std::string>, const enforcer::EventRecord*> kills;
  for (const enforcer::EventRecord& block : report.events)
    if (block.action == EventAction::kBlock && block.operation == Operation::kExec &&
        block.enforcement == enforcer::Enforcement::kSigkill)
      kills[{block.tgid, resolved_path(block.resource)}] = &block;
  std::vector<attacks::ExecutedProgram> programs;
  for (const enforcer::EventRecord& event : report.events) {
    if (event.action != EventAction::kObserve || event.operation != Operation::kExec) continue;
    attacks::ExecutedProgram program{event.resource, event.tgid, false, ""};
    if (const auto it = kills.find({event.tgid, resolved_path(event.resource)});
        it != kills.end()) {
      program.killed_at_exec = true;
      program.killed_by = "enforcer (" + to_string(it->second->backend) + "), rule " +
                          (it->second->rule.empty() ? "-" : it->second->rule);
    }
    programs.push_back(std::move(program));
  }
  return programs;
}

std::vector<attacks::ExecutedProgram> Sandbox::executed_programs() {
  return executed_programs_in(enforcer_report());
}

}  // namespace armorbench
