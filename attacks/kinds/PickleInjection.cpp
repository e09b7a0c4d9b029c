// pickle-injection: code in the model's pickle runs when torch.load (or pickle.load) reads it.
// Keys: gadget (os.system | subprocess.Popen | builtins.exec | os.execv), format (pt | pickle |
// joblib; default from the case's loader),
// action (builtins.exec only: connect | marker). Objective: a shell or program ran (it wrote
// this run's nonce into a marker) or, for in-process Python, a beacon reached the harness or a
// marker was written.
#include "KindSupport.h"
#include "armorbench/attacks/Objectives.h"
#include "armorbench/base/Hex.h"

namespace armorbench::attacks {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

struct PickleInjectionSpec {
  std::string gadget;
  std::string format = "pt";
  std::string action;  // builtins.exec: connect | marker
  bool runs_shell() const { return gadget != "builtins.exec"; }
  bool beacons() const { return action == "connect"; }
};

class PickleInjection final : public Attack {
 public:
  PickleInjection(PickleInjectionSpec spec, const AttackContext& context)
      : spec_(std::move(spec)), payload_(context, spec_.format) {}

  void prepare(const ModelArtifacts& model, const fs::path& run_dir, const std::string& host,
               WorkloadSpec& workload) override {
    const std::string nonce = random_hex(16);
    const std::string shell = "echo " + nonce + " > " + kMarkerPath;
    if (spec_.gadget == "os.system") {
      payload_.inject(model, run_dir, workload, spec_.gadget, {"--command", shell});
    } else if (spec_.runs_shell()) {
      payload_.inject(model, run_dir, workload, spec_.gadget,
                      {"--argv", json({"/bin/sh", "-c", shell}).dump()});
    } else if (spec_.beacons()) {
      auto beacon = std::make_unique<BeaconObjective>("127.0.0.1", 0, nonce,
                                                      "reverse beacon from the model load");
      payload_.inject_script(model, run_dir, workload, "reverse_connect.py",
                             {{"host", host}, {"port", beacon->port()}, {"nonce", nonce}});
      objective_ = std::move(beacon);
      return;
    } else {
      payload_.inject_script(model, run_dir, workload, "write_marker.py",
                             {{"path", kMarkerPath}, {"nonce", nonce}});
    }
    objective_ = std::make_unique<MarkerObjective>(
        kMarkerPath, nonce, spec_.runs_shell() ? "a shell ran" : "in-process code wrote a file");
  }

  ObjectiveStatus observe(AttackSurface& surface) override { return objective_->observe(surface); }
  std::vector<std::string> sandbox_files() const override { return objective_->sandbox_files(); }
  std::vector<ExpectedOperation> expected_operations() const override {
    return objective_->operations();  // the beacon's port; empty (the definition's) otherwise
  }

 private:
  PickleInjectionSpec spec_;
  ModelPayload payload_;
  std::unique_ptr<Objective> objective_;
};

class PickleInjectionDefinition final : public DefinitionBase {
 public:
  explicit PickleInjectionDefinition(PickleInjectionSpec spec)
      : DefinitionBase("pickle-injection"), spec_(std::move(spec)) {}

  json parameters() const override {
    json j = {{"gadget", spec_.gadget}, {"format", spec_.format}};
    if (!spec_.action.empty()) j["action"] = spec_.action;
    return j;
  }

  json objective() const override {
    if (spec_.beacons())
      return {{"type", "connect"}, {"what", "the payload's beacon reaches a harness listener"}};
    return {{"type", "file_created"}, {"path", kMarkerPath}, {"contains", "this run's nonce"}};
  }

  std::vector<ExpectedOperation> expected_operations() const override {
    if (spec_.runs_shell())
      return {{Operation::kExec, "/bin/sh", "the " + spec_.gadget + " gadget runs a shell"}};
    if (spec_.beacons())
      return {{Operation::kSocket, "socket tcp", "the in-process payload creates a TCP socket"},
              {Operation::kConnect, "", "the in-process payload connects to a harness listener"}};
    return {{Operation::kOpen, kMarkerPath, "the in-process payload writes a file"}};
  }

  std::unique_ptr<Attack> instantiate(const AttackContext& context,
                                      const ResourceLimits&) const override {
    return std::make_unique<PickleInjection>(spec_, context);
  }

 private:
  PickleInjectionSpec spec_;
};

std::shared_ptr<AttackDefinition> parse(TomlTable& table, const AttackParseContext& context) {
  PickleInjectionSpec spec;
  const auto gadget =
      table.choice("gadget", {"os.system", "subprocess.Popen", "builtins.exec", "os.execv"});
  if (!gadget) throw table.error_at("", "pickle-injection needs 'gadget'");
  spec.gadget = *gadget;
  // The container follows the loader unless declared: a plain pickle for pickle.load, a joblib
  // file for joblib.load, else torch.save's zip.
  // (The xgboost loader reads no pickle: an attacker ships the pickled booster under its name.)
  const std::string by_loader =
      context.loader == Loader::kJoblib                                         ? "joblib"
      : context.loader == Loader::kPickle || context.loader == Loader::kXgboost ? "pickle"
                                                                                : "pt";
  spec.format = table.choice("format", {"pt", "pickle", "joblib"}).value_or(by_loader);
  if ((spec.format == "joblib") != (context.loader == Loader::kJoblib))
    throw table.error_at("format", "format '" + spec.format + "' with loader '" +
                                       to_string(context.loader) +
                                       "': a joblib file is what the joblib loader reads");
  if (spec.gadget == "builtins.exec")
    spec.action = table.choice("action", {"connect", "marker"}).value_or("connect");
  return std::make_shared<PickleInjectionDefinition>(std::move(spec));
}

}  // namespace

AttackKindEntry pickle_injection_kind() {
  return {"pickle-injection", &parse,
          "A pickle gadget in the model file runs code when the server loads it", "CWE-502", 8.8};
}

}  // namespace armorbench::attacks
