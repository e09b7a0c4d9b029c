// The objectives an attack can have, as reusable pieces the harness observes for itself: a file
// holding this run's nonce (marker), a beacon at a harness listener, a share the harness's pool
// verified, an exec the watch saw, the canary in a memory dump, a resource counter the payload
// reports beyond a limit. Attack kinds compose them; a bring-your-own case declares one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "armorbench/attacks/Attack.h"
#include "armorbench/attacks/BeaconListener.h"
#include "armorbench/attacks/FakeStratumPool.h"
#include "armorbench/base/UniqueFd.h"

namespace armorbench::attacks {

class Objective {
 public:
  virtual ~Objective() = default;
  virtual ObjectiveStatus observe(AttackSurface& surface) = 0;
  // The objective as results record it ({"type": ..., ...}).
  virtual nlohmann::json describe() const = 0;
  // Once the run is staged: the benign model it serves and the run's own directory.
  virtual void prepare(const ModelArtifacts& model, const std::filesystem::path& run_dir) {
    (void)model;
    (void)run_dir;
  }
  // Work from outside the sandbox while the model is served (the memory dump).
  virtual void while_serving(AttackSurface& surface) { (void)surface; }
  virtual std::vector<std::string> sandbox_files() const { return {}; }
  virtual bool needs_exec_watch() const { return false; }
  // The operation the objective needs, as far as it knows it (the listener's address).
  virtual std::vector<ExpectedOperation> operations() const { return {}; }
};

// A file inside the sandbox that holds `needle` (this run's nonce, or a declared text; an empty
// needle asks only that the file exists).
class MarkerObjective final : public Objective {
 public:
  MarkerObjective(std::string path, std::string needle, std::string what);
  ObjectiveStatus observe(AttackSurface& surface) override;
  nlohmann::json describe() const override;
  std::vector<std::string> sandbox_files() const override { return {path_}; }

 private:
  std::string path_;
  std::string needle_;
  std::string what_;
};

// A file planted in the sandbox that must stay as planted: reached when the harness finds it
// gone or holding anything else (removed, truncated, replaced). The planted content is this
// run's own, so nothing but a change to the file can make it differ.
class FileChangedObjective final : public Objective {
 public:
  FileChangedObjective(std::string path, std::string planted, std::string what);
  ObjectiveStatus observe(AttackSurface& surface) override;
  nlohmann::json describe() const override;
  std::vector<std::string> sandbox_files() const override { return {path_}; }

 private:
  std::string path_;
  std::string planted_;
  std::string what_;
};

// A connection to a harness listener carrying `needle`: a connection alone (a port scan, a
// health check) proves nothing, so the needle is always set.
class BeaconObjective final : public Objective {
 public:
  // Listens on host:port (port 0: any free port). Throws an environment Error when it cannot.
  BeaconObjective(std::string host, std::uint16_t port, std::string needle, std::string what);
  std::uint16_t port() const { return listener_->port(); }
  ObjectiveStatus observe(AttackSurface& surface) override;
  nlohmann::json describe() const override;
  std::vector<ExpectedOperation> operations() const override;

 private:
  std::string host_;
  std::unique_ptr<BeaconListener> listener_;
  std::string needle_;
  std::string what_;
};

// The same beacon over a protocol other than TCP: UDP-Lite datagrams, an SCTP association, or an
// ICMP echo request (seen by a raw ICMP socket of the harness). The harness drains what arrived
// whenever it observes. A protocol this kernel lacks leaves the objective unreachable, said so.
class ProtocolBeaconObjective final : public Objective {
 public:
  enum class Protocol { kUdpLite, kSctp, kIcmp };
  ProtocolBeaconObjective(Protocol protocol, std::string host, std::string needle,
                          std::string what);
  std::uint16_t port() const { return port_; }  // 0 for ICMP
  ObjectiveStatus observe(AttackSurface& surface) override;
  nlohmann::json describe() const override;
  std::vector<ExpectedOperation> operations() const override;

 private:
  Protocol protocol_;
  std::string host_;
  std::string needle_;
  std::string what_;
  UniqueFd listen_fd_;
  std::vector<UniqueFd> peers_;  // SCTP associations accepted
  std::uint16_t port_ = 0;
  std::string unavailable_;  // why the harness could not listen
  std::string received_;     // bounded
  int packets_ = 0;
};

// A valid Stratum share at the harness's own pool (it verifies every share).
class ShareObjective final : public Objective {
 public:
  ShareObjective();
  std::uint16_t port() const { return pool_->port(); }
  ObjectiveStatus observe(AttackSurface& surface) override;
  nlohmann::json describe() const override;

 private:
  std::unique_ptr<FakeStratumPool> pool_;
};

// A program that ran inside the sandbox: the exec watch saw it start and the enforcer did not
// kill it at the exec itself (a process killed before its first instruction ran nothing).
class ExecObjective final : public Objective {
 public:
  explicit ExecObjective(std::string path) : path_(std::move(path)) {}
  ObjectiveStatus observe(AttackSurface& surface) override;
  nlohmann::json describe() const override;
  bool needs_exec_watch() const override { return true; }
  std::vector<ExpectedOperation> operations() const override;

 private:
  std::string path_;
};

// The model's memory read from outside the sandbox and searched for a canary: from a host
// process (process_vm_readv, /proc/<pid>/mem, ptrace, io_uring), from a privileged sibling
// container, or in the hypervisor's dump of a guest (core_dump). A refusal is only what the
// dumper's own report proves (EPERM/EACCES on the operation it needed) or a SIGKILL it died of
// (`runc run` reports that as exit 137); a dead target (ESRCH, ENOENT), a crash or the harness's
// own timeout are failures, not refusals.
struct DumpRequest {
  std::string method = "process_vm_readv";
  std::string from = "host";  // host | sibling
  std::string canary_hex;     // "": the served model's own canary
};

class CanaryObjective final : public Objective {
 public:
  CanaryObjective(DumpRequest request, const AttackContext& context);
  // Takes the model's canary unless one was declared; a guest's RAM dump goes to `run_dir`.
  void prepare(const ModelArtifacts& model, const std::filesystem::path& run_dir) override;
  void while_serving(AttackSurface& surface) override;
  ObjectiveStatus observe(AttackSurface& surface) override;
  nlohmann::json describe() const override;
  std::vector<ExpectedOperation> operations() const override;

 private:
  void judge(const CommandResult& result, const nlohmann::json& report);

  DumpRequest request_;
  std::filesystem::path memdump_;
  std::filesystem::path run_dir_ = std::filesystem::temp_directory_path();
  bool ran_ = false;
  bool found_ = false;
  bool scanned_ = false;  // the dump read memory to the end and the canary was not in it
  std::vector<Denial> denials_;
  std::string failure_;  // why the dump failed without a refusal
  ModelHolder holder_;   // whose memory was read (pid 0: none, or the hypervisor's dump)
  ExitStatus status_;
  std::string who_;
  nlohmann::json detail_;
};

// The operation each memory-dump method needs, as the enforcer names it (core_dump: none, the
// hypervisor reads guest RAM where no guest enforcer sees it).
std::vector<ExpectedOperation> memory_operations_for(const std::string& method);

// A secret the harness planted coming back to a client in an inference response: the harness
// sends the model's own first request and looks for the secret's bytes in every output tensor,
// read as its datatype's little-endian bytes and as one byte per element (response_byte_views).
// A part of the secret counts too when it holds at least kLeakWindow bytes of the secret's random
// part (from `random_from` on): a model that reads a guessed length leaks a prefix, and no
// stretch of random bytes that long appears by chance.
class ResponseLeakObjective final : public Objective {
 public:
  static constexpr std::size_t kLeakWindow = 16;
  ResponseLeakObjective(std::string path, std::string secret, std::string what,
                        std::size_t random_from = 0);
  void prepare(const ModelArtifacts& model, const std::filesystem::path& run_dir) override;
  ObjectiveStatus observe(AttackSurface& surface) override;
  nlohmann::json describe() const override;
  std::vector<ExpectedOperation> operations() const override {
    return {{Operation::kOpen, path_, "reads the planted secret"}};
  }

 private:
  std::string path_;
  std::string secret_;
  std::string what_;
  std::size_t random_from_;
  std::string model_name_;
  nlohmann::json request_;  // an OIP "inputs" array
};

// The model's first request as an OIP "inputs" array (the MLP's first row as input-0 [1, n]).
nlohmann::json first_request(const ModelArtifacts& model);

// (output name, bytes) for each way an OIP "outputs" array can carry bytes: each tensor's values
// packed little-endian in its datatype (INT*/UINT8/BOOL/FP32/FP64), and, where every value is a
// byte (0..255 or -128..127), one byte per value.
std::vector<std::pair<std::string, std::string>> response_byte_views(const nlohmann::json& outputs);

// A payload's own count of a resource (processes alive at once, bytes held), reported in a JSON
// marker file, beyond the target's limit.
class ResourceObjective final : public Objective {
 public:
  enum class Resource { kPids, kMemory };
  ResourceObjective(Resource resource, std::uint64_t limit, std::string marker);
  ObjectiveStatus observe(AttackSurface& surface) override;
  nlohmann::json describe() const override;
  std::vector<std::string> sandbox_files() const override { return {marker_}; }

 private:
  Resource resource_;
  std::uint64_t limit_;
  std::string marker_;
};

}  // namespace armorbench::attacks
