// The reusable objectives. Each says what it saw, or what it looked for and did not see.
#include "armorbench/attacks/Objectives.h"

#include <algorithm>
#include <system_error>

#include "armorbench/attacks/MemoryDumper.h"
#include "armorbench/base/Hex.h"

namespace armorbench::attacks {
namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::milliseconds;

namespace {

constexpr milliseconds kHostDumpTimeout{300'000};  // a guest's QEMU process is large
constexpr const char* kSiblingTool = "/run/armorbench-memdump";

}  // namespace

json ExpectedOperation::to_json() const {
  return {{"operation", to_string(operation)}, {"resource", resource}, {"why", why}};
}

MarkerObjective::MarkerObjective(std::string path, std::string needle, std::string what)
    : path_(std::move(path)), needle_(std::move(needle)), what_(std::move(what)) {}

ObjectiveStatus MarkerObjective::observe(AttackSurface& surface) {
  ObjectiveStatus status;
  const auto content = surface.read_file(path_);
  status.reached = content && content->find(needle_) != std::string::npos;
  if (status.reached)
    status.detail = what_ + ": " + path_ + (needle_.empty() ? " exists" : " holds " + needle_);
  else if (content)
    status.detail = what_ + " not proven: " + path_ + " exists without " + needle_;
  else
    status.detail = what_ + " not observed: " + path_ + " was not created";
  status.evidence.push_back({"objective", status.detail, {{"path", path_}, {"needle", needle_}}});
  return status;
}

json MarkerObjective::describe() const {
  return {{"type", "file_created"}, {"path", path_}, {"contains", needle_}, {"what", what_}};
}

BeaconObjective::BeaconObjective(std::uint16_t port, std::string what) : what_(std::move(what)) {
  try {
    listener_ = std::make_unique<BeaconListener>("127.0.0.1", port);
  } catch (const std::system_error& e) {
    throw environment_error("cannot listen on port " + std::to_string(port) + " for " + what_ +
                            ": " + e.what());
  }
}

ObjectiveStatus BeaconObjective::observe(AttackSurface&) {
  ObjectiveStatus status;
  if (listener_->wait_for(needle_, milliseconds(0))) {
    status.reached = true;
    status.detail =
        what_ + ": the listener on port " + std::to_string(listener_->port()) + " received it";
  } else {
    status.detail = what_ + " not observed: " + std::to_string(listener_->connections().size()) +
                    " connection(s) at the listener, none carrying it";
  }
  status.evidence.push_back({"objective", status.detail, listener_->to_json()});
  return status;
}

json BeaconObjective::describe() const {
  return {{"type", "connect"}, {"port", listener_->port()}, {"what", what_}};
}

ShareObjective::ShareObjective() : pool_(std::make_unique<FakeStratumPool>(PoolOptions{})) {}

ObjectiveStatus ShareObjective::observe(AttackSurface&) {
  ObjectiveStatus status;
  status.reached = pool_->valid_share_count() > 0;
  status.detail = status.reached
                      ? "the pool verified " + std::to_string(pool_->valid_share_count()) +
                            " share(s) mined in the sandbox"
                      : "no valid share at the pool (" +
                            std::to_string(pool_->connections().size()) + " connection(s))";
  status.evidence.push_back({"objective", status.detail, pool_->to_json()});
  return status;
}

json ShareObjective::describe() const {
  return {{"type", "share_submitted"}, {"what", "a valid Stratum share reaches the harness pool"}};
}

ObjectiveStatus ExecObjective::observe(AttackSurface& surface) {
  ObjectiveStatus status;
  const std::vector<std::string> executed = surface.executed_paths();
  status.reached = std::find(executed.begin(), executed.end(), path_) != executed.end();
  status.detail = status.reached ? path_ + " was executed"
                                 : path_ + " was not executed (" + std::to_string(executed.size()) +
                                       " exec(s) observed)";
  status.evidence.push_back({"objective", status.detail, {{"executed", executed}}});
  return status;
}

json ExecObjective::describe() const {
  return {{"type", "exec"}, {"path", path_}};
}

CanaryObjective::CanaryObjective(DumpRequest request, const AttackContext& context)
    : request_(std::move(request)), memdump_(context.bin_dir / "armorbench-memdump") {}

void CanaryObjective::prepare(const ModelArtifacts& model, const fs::path& run_dir) {
  if (request_.canary_hex.empty()) request_.canary_hex = model.canary_hex;
  run_dir_ = run_dir;
}

void CanaryObjective::while_serving(AttackSurface& surface) {
  detail_ = {{"method", request_.method}, {"from", request_.from}};
  if (request_.method == "core_dump") {
    // What a host administrator (or a compromised hypervisor) does: dump the guest's RAM.
    if (request_.from != "host")
      throw unsupported_error("core_dump is the hypervisor's; a " + request_.from +
                              " attacker cannot take it");
    const fs::path file = run_dir_ / "guest-memory.elf";
    const MemoryDumpInfo info = surface.dump_memory(file);
    const ScanResult scan = MemoryDumper().scan_file(file.string(), from_hex(request_.canary_hex));
    std::error_code ec;
    fs::remove(file, ec);
    ran_ = true;
    found_ = scan.found;
    who_ = "the hypervisor's memory dump";
    detail_["report"] = scan.to_json();
    detail_["core_dump"] = {{"bytes", info.bytes},
                            {"elapsed_ms", info.elapsed.count()},
                            {"format", info.format},
                            {"api", info.api}};
    return;
  }
  if (!fs::exists(memdump_))
    throw environment_error("the memory-dump tool " + memdump_.string() + " is not built");
  const ModelHolder holder = surface.model_holder();
  std::vector<std::string> argv{memdump_.string(),
                                "--pid",
                                std::to_string(holder.pid),
                                "--canary",
                                request_.canary_hex,
                                "--method",
                                request_.method,
                                "--json"};
  detail_["target"] = holder.description;
  detail_["pid"] = holder.pid;
  CommandResult result;
  if (request_.from == "host") {
    who_ = "a host process";
    result = run_command(argv, kHostDumpTimeout);
  } else {
    // The tool comes in through a read-only bind (the build dir may be where the sibling's
    // own /tmp hides it).
    who_ = "a sibling container";
    SiblingSpec sibling;
    sibling.binds.push_back({memdump_, kSiblingTool});
    sibling.capabilities = {"CAP_SYS_PTRACE"};
    sibling.argv = argv;
    sibling.argv[0] = kSiblingTool;
    result = surface.run_sibling(sibling);
  }
  ran_ = true;
  status_ = result.status;
  const auto report = json::parse(result.out, nullptr, false);
  if (!report.is_discarded()) detail_["report"] = report;
  detail_["exit"] = result.status.describe();
  if (!result.err.empty()) detail_["stderr"] = output_tail(result.err, 1000);
  found_ = !report.is_discarded() && report.value("found", false);
  denied_ = result.status.signal != 0 || result.status.code == 2;
}

ObjectiveStatus CanaryObjective::observe(AttackSurface&) {
  ObjectiveStatus status;
  if (!ran_) {
    status.detail = "the dump did not run";
    return status;
  }
  status.reached = found_;
  status.detail =
      found_ ? "the canary was found by " + who_ + " (" + request_.method + ")"
             : "canary not found by " + who_ + " (" + request_.method + ")" +
                   (request_.method == "core_dump" ? "" : ", attacker " + status_.describe());
  status.evidence.push_back({"objective", status.detail, detail_});
  return status;
}

json CanaryObjective::describe() const {
  return {{"type", "canary_found"},
          {"method", request_.method},
          {"from", request_.from},
          {"what", "the canary's bytes are found in the model server's memory"}};
}

std::vector<std::string> CanaryObjective::kernel_denials() const {
  if (!ran_ || !denied_) return {};
  return {"the dumping process was stopped: " + status_.describe()};
}

ResourceObjective::ResourceObjective(Resource resource, std::uint64_t limit, std::string marker)
    : resource_(resource), limit_(limit), marker_(std::move(marker)) {}

ObjectiveStatus ResourceObjective::observe(AttackSurface& surface) {
  ObjectiveStatus status;
  const auto content = surface.read_file(marker_);
  const json marker = content ? json::parse(*content, nullptr, false) : json();
  if (marker.is_discarded() || marker.is_null()) {
    status.detail = "no progress marker from the payload";
    return status;
  }
  if (resource_ == Resource::kPids) {
    const std::int64_t forked = marker.value("forked", 0);
    status.reached = forked >= static_cast<std::int64_t>(limit_);
    status.detail =
        "forked " + std::to_string(forked) + " processes; the limit is " + std::to_string(limit_);
  } else {
    const std::uint64_t peak = marker.value("peak_bytes", 0ull);
    status.reached = peak > limit_;
    status.detail = "held " + std::to_string(peak >> 20) + " MiB; the limit is " +
                    std::to_string(limit_ >> 20) + " MiB";
  }
  status.evidence.push_back({"objective", status.detail, marker});
  return status;
}

json ResourceObjective::describe() const {
  return resource_ == Resource::kPids
             ? json{{"type", "resource_exceeded"}, {"resource", "pids"}, {"limit", limit_}}
             : json{{"type", "resource_exceeded"}, {"resource", "memory"}, {"limit_bytes", limit_}};
}

}  // namespace armorbench::attacks
