// The enforcer's cost on benign inference, measured to the noise floor: one model server in one
// runc container (the same limits throughout) answers rounds of requests while the host enforcer
// is absent, loaded and scoped in audit, swapped to block, and torn down again. Each round is a
// stratum (off, audit, block, off again; every other round in reverse order, so that drift
// within a round cancels too), so drift between rounds cancels; the two off phases against each
// other are the run's own noise floor.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "armorbench/base/Enforcement.h"
#include "armorbench/harness/Statistics.h"

namespace armorbench {

struct InferenceBenchOptions {
  std::filesystem::path data_dir;  // source tree: the model server, the generator, policies
  std::filesystem::path bin_dir;
  std::vector<std::filesystem::path> policies;  // default: the benign suite's policies
  Backend backend = Backend::kAuto;
  int rounds = 12;
  int requests = 200;  // per phase of a round
  int warmup = 50;
  std::vector<int> layers{64, 1024, 1024, 10};  // the default suite's generated model
};

struct InferenceBenchResult {
  std::string backend;
  int rounds = 0, requests = 0;
  // Per phase ("off", "audit", "block", "off-again"), every request's latency in microseconds,
  // one vector per round.
  std::vector<std::string> phases;
  std::vector<std::vector<std::vector<double>>> samples;  // [phase][round][request]
  std::vector<std::vector<std::string>> orders;           // per round, the phases as measured
  struct Figure {
    std::string name;  // "audit/off", "block/off", "off-again/off (noise)"
    Statistic statistic = Statistic::kP50;
    Interval ratio;
  };
  std::vector<Figure> figures;
  int enforcer_events = 0;  // decisions on the benign server (should be 0)
  double seconds = 0;

  nlohmann::json to_json() const;
  std::string table() const;
};

// Needs root and runc. Throws an unsupported Error when this host cannot run it.
InferenceBenchResult run_inference_bench(const InferenceBenchOptions& options);

}  // namespace armorbench
