// evasion: side doors past the enforcer, taken by code running in the model server (a pickle
// gadget), each aimed at an objective the front door is closed to. Key: technique =
//   socket-mptcp | socket-sctp | socket-udplite | socket-icmp | socket-raw: a beacon carrying this
//     run's nonce reaches a harness listener over a protocol other than plain TCP/UDP;
//   clone-files | chroot | cgroup-escape | rename | link | int80: the planted service-account
//     token ends up in the marker file, read past a file rule by the side door;
//   unshare-exec: a shell runs under the allowed interpreter's name (a marker only a shell can
//     write: the nonce followed by the shell's arithmetic);
//   unlink | truncate | replace: the planted token is not as planted afterwards (removed, emptied,
//     or a forged one renamed over it): a change to a protected file, not a read of it.
// The operations each needs are named per technique, so a verdict rests on a denial of the side
// door itself (the enforcer's, or the kernel's seccomp refusal), never on an unrelated one.
#include <array>

#include "KindSupport.h"
#include "armorbench/attacks/Objectives.h"
#include "armorbench/base/Hex.h"

namespace armorbench::attacks {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kTokenPath = kServiceAccountToken;
constexpr const char* kSecretsDir = "/run/secrets";
constexpr const char* kRenamedDir = "/run/moved-secrets";
constexpr const char* kLinkPath = "/run/token-link";
constexpr const char* kForgedPath = "/run/forged-token";
constexpr const char* kTracePath = "/tmp/abx-evasion-trace.json";
constexpr const char* kCgroupMount = "/tmp/abx-cgroup";
constexpr const char* kInterpreter = "/usr/bin/python3.11";  // what the default policy allows
constexpr const char* kShell = "/usr/bin/dash";

struct Technique {
  const char* name;
  const char* what;  // the side door, for results
};

constexpr std::array<Technique, 15> kTechniques{{
    {"socket-mptcp", "a stream socket of IPPROTO_MPTCP calls home"},
    {"socket-sctp", "an SCTP association calls home"},
    {"socket-udplite", "a UDP-Lite datagram calls home"},
    {"socket-icmp", "an ICMP echo from a datagram (ping) socket calls home"},
    {"socket-raw", "an ICMP echo from a raw socket calls home"},
    {"clone-files", "a clone(CLONE_FILES) child opens the token; the parent reads the shared fd"},
    {"unshare-exec", "a shell bound over the allowed interpreter in a private mount namespace"},
    {"chroot", "the token read by its name below a chroot"},
    {"cgroup-escape", "the server moved into a cgroup below its container's, then reads the token"},
    {"rename", "the secrets directory renamed, the token read under the new name"},
    {"link", "the token hard-linked, the link read"},
    {"int80", "the token opened and read with 32-bit syscalls (int 0x80)"},
    {"unlink", "the token removed"},
    {"truncate", "the token emptied with truncate(2)"},
    {"replace", "a forged token renamed over the real one"},
}};

const Technique* find_technique(const std::string& name) {
  for (const Technique& t : kTechniques)
    if (name == t.name) return &t;
  return nullptr;
}

bool is_socket(const std::string& technique) {
  return technique.rfind("socket-", 0) == 0;
}

bool changes_the_token(const std::string& technique) {
  return technique == "unlink" || technique == "truncate" || technique == "replace";
}

// What each technique must get past, beyond its objective's own operations.
std::vector<ExpectedOperation> side_door_operations(const std::string& technique) {
  const auto syscall = [](const char* name, const char* why) {
    return ExpectedOperation{Operation::kSyscall, name, why};
  };
  const ExpectedOperation read_token{Operation::kOpen, kTokenPath, "opens the token"};
  if (technique == "clone-files")
    return {read_token, syscall("clone", "shares its descriptor table with a child")};
  if (technique == "unshare-exec")
    return {syscall("unshare", "enters new user and mount namespaces"),
            syscall("mount", "binds the shell over the interpreter"),
            {Operation::kExec, kInterpreter, "executes the shell under the interpreter's name"}};
  if (technique == "chroot")
    return {syscall("unshare", "enters a new user namespace"),
            syscall("chroot", "changes its root to /run"),
            {Operation::kOpen, "/secrets/kubernetes.io/serviceaccount/token",
             "opens the token by its name below the new root"},
            read_token};
  if (technique == "cgroup-escape")
    return {syscall("unshare", "enters new user, mount and cgroup namespaces"),
            syscall("mount", "mounts cgroup2"), read_token};
  if (technique == "rename")
    return {{Operation::kOpen, std::string(kRenamedDir) + "/kubernetes.io/serviceaccount/token",
             "opens the token under the renamed directory"},
            read_token};
  if (technique == "link")
    return {{Operation::kLink, kTokenPath, "hard-links the token"},
            {Operation::kOpen, kLinkPath, "opens the hard link"},
            read_token};
  if (technique == "unlink") return {{Operation::kUnlink, kTokenPath, "removes the token"}};
  if (technique == "truncate") return {{Operation::kSetattr, kTokenPath, "empties the token"}};
  if (technique == "replace")
    return {{Operation::kRename, kTokenPath, "renames a forged token over the real one"}};
  if (technique == "int80")
    return {read_token, syscall("syscall 5 (arch 40000003)", "the 32-bit open")};
  if (technique == "socket-raw")
    return {{Operation::kSocket, "socket raw", "creates the raw socket"}};
  return {};
}

class Evasion final : public Attack {
 public:
  Evasion(const AttackContext& context, std::string technique)
      : payload_(context, "pt"), technique_(std::move(technique)) {}

  void prepare(const ModelArtifacts& model, const fs::path& run_dir, const std::string& host,
               WorkloadSpec& workload) override {
    const std::string nonce = "ABX-" + random_hex(12);
    json params = {{"technique", technique_}, {"trace", kTracePath}, {"nonce", nonce},
                   {"needle", nonce},         {"host", host},        {"marker", kMarkerPath}};
    if (technique_ == "socket-mptcp") {
      beacon_ = std::make_unique<BeaconObjective>("127.0.0.1", 0, nonce, "the MPTCP beacon");
      params["port"] = beacon_->port();
    } else if (is_socket(technique_)) {
      const auto protocol =
          technique_ == "socket-udplite" ? ProtocolBeaconObjective::Protocol::kUdpLite
          : technique_ == "socket-sctp"  ? ProtocolBeaconObjective::Protocol::kSctp
                                         : ProtocolBeaconObjective::Protocol::kIcmp;
      protocol_beacon_ = std::make_unique<ProtocolBeaconObjective>(
          protocol, "127.0.0.1", nonce, std::string("the ") + technique_.substr(7) + " beacon");
      params["port"] = protocol_beacon_->port();
    } else if (technique_ == "unshare-exec") {
      // $((6*7)) is arithmetic only a shell does: the interpreter itself would fail on it.
      marker_ = std::make_unique<MarkerObjective>(kMarkerPath, nonce + "-42",
                                                  "a shell ran under the interpreter's name");
      params["interpreter"] = kInterpreter;
      params["shell"] = kShell;
    } else if (changes_the_token(technique_)) {
      const std::string token = fresh_service_account_token();
      changed_ = std::make_unique<FileChangedObjective>(kTokenPath, token,
                                                        "the service-account token was changed");
      workload.planted.push_back({kTokenPath, token, 0600});
      params["secret_path"] = kTokenPath;
      params["forged_path"] = kForgedPath;
      params["forged"] = fresh_service_account_token();
    } else {
      const std::string token = fresh_service_account_token();
      marker_ = std::make_unique<MarkerObjective>(kMarkerPath, token,
                                                  "the service-account token was read");
      workload.planted.push_back({kTokenPath, token, 0600});
      params["secret_path"] = kTokenPath;
      params["chroot_dir"] = "/run";
      params["scratch"] = kCgroupMount;
      params["rename_from"] = kSecretsDir;
      params["rename_to"] = kRenamedDir;
      params["link_to"] = kLinkPath;
    }
    payload_.inject_script(model, run_dir, workload, "evasion.py", params);
  }

  ObjectiveStatus observe(AttackSurface& surface) override {
    ObjectiveStatus status = goal().observe(surface);
    // What the payload says it did: context for a reviewer, never proof.
    if (auto trace = surface.read_file(kTracePath)) {
      json steps = json::parse(*trace, nullptr, false);
      if (!steps.is_discarded())
        status.evidence.push_back(
            {"attack",
             "the payload's own account of its steps (not evidence of the objective)",
             {{"steps", steps}}});
    }
    return status;
  }

  std::vector<std::string> sandbox_files() const override {
    std::vector<std::string> files = goal().sandbox_files();
    files.push_back(kTracePath);
    return files;
  }

  std::vector<ExpectedOperation> expected_operations() const override {
    std::vector<ExpectedOperation> ops = goal().operations();
    for (ExpectedOperation& op : side_door_operations(technique_)) ops.push_back(std::move(op));
    return ops;
  }

 private:
  Objective& goal() const {
    if (beacon_) return *beacon_;
    if (protocol_beacon_) return *protocol_beacon_;
    if (changed_) return *changed_;
    return *marker_;
  }

  ModelPayload payload_;
  std::string technique_;
  std::unique_ptr<BeaconObjective> beacon_;
  std::unique_ptr<ProtocolBeaconObjective> protocol_beacon_;
  std::unique_ptr<MarkerObjective> marker_;
  std::unique_ptr<FileChangedObjective> changed_;
};

class EvasionDefinition final : public DefinitionBase {
 public:
  explicit EvasionDefinition(const Technique& technique)
      : DefinitionBase("evasion"), technique_(technique) {}

  json parameters() const override { return {{"technique", technique_.name}}; }
  json objective() const override {
    const std::string t = technique_.name;
    if (is_socket(t)) return {{"type", "beacon"}, {"what", std::string(technique_.what)}};
    if (t == "unshare-exec")
      return {{"type", "file_created"}, {"what", "a marker only a shell can write"}};
    if (changes_the_token(t))
      return {{"type", "file_changed"},
              {"what", "the planted token no longer as planted"},
              {"side_door", technique_.what}};
    return {{"type", "file_created"},
            {"what", "the planted token in the marker file"},
            {"side_door", technique_.what}};
  }
  std::vector<ExpectedOperation> expected_operations() const override {
    std::vector<ExpectedOperation> ops = side_door_operations(technique_.name);
    if (std::string(technique_.name) == "socket-mptcp")
      ops.insert(ops.begin(), {Operation::kSocket, "socket tcp", "creates the MPTCP socket"});
    return ops;
  }
  std::unique_ptr<Attack> instantiate(const AttackContext& context,
                                      const ResourceLimits&) const override {
    return std::make_unique<Evasion>(context, technique_.name);
  }

 private:
  const Technique& technique_;
};

std::shared_ptr<AttackDefinition> parse(TomlTable& table, const AttackParseContext&) {
  std::vector<std::string> names;
  for (const Technique& t : kTechniques) names.push_back(t.name);
  const auto technique = table.choice("technique", names);
  if (!technique) {
    std::string list;
    for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
    throw table.error_at("", "an evasion attack needs 'technique' (" + list + ")");
  }
  return std::make_shared<EvasionDefinition>(*find_technique(*technique));
}

}  // namespace

AttackKindEntry evasion_kind() {
  return {
      "evasion", &parse,
      "Code in the model reaches a blocked objective through a side door the policy did not name",
      "CWE-693", 8.8};
}

}  // namespace armorbench::attacks
