// The evidence bundle (README "Evidence bundle"): a directory and a .tar.gz holding a run's
// results and event logs, its exact scenario and policy files, the enforcer's BPF objects, host
// facts, the rendered reports, a SHA256SUMS manifest and an in-toto Statement v1 (test-result
// predicate) over all of it, signed with Ed25519 (a DSSE envelope) when a key is given.
// `verify_bundle` checks every digest and the signature and names what changed.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace armorbench::reports {

inline constexpr const char* kStatementFile = "statement.intoto.json";
inline constexpr const char* kEnvelopeFile = "statement.intoto.dsse.json";
inline constexpr const char* kManifestFile = "SHA256SUMS";
inline constexpr const char* kInTotoPayloadType = "application/vnd.in-toto+json";

struct BundleOptions {
  std::filesystem::path out_dir;  // the run's --out: results.json, results.jsonl, events/
  std::optional<std::filesystem::path> sign_key;  // PEM Ed25519 private key
  // Host facts probed when the bundle is written (run --bundle writes it on the host that ran):
  // libvirt's domain capabilities XML, when libvirt answered.
  std::optional<std::string> domain_capabilities_xml;
};

struct BundleSummary {
  std::filesystem::path directory;
  std::filesystem::path archive;  // directory + ".tar.gz"
  std::size_t files = 0;
  std::size_t subjects = 0;
  std::optional<std::string> key_id;  // when signed
};

// Writes the bundle for `results` (the run's results.json document) at `bundle` (replacing an
// earlier bundle there; refusing any other existing path) and `bundle`.tar.gz. Built beside the
// destination and renamed into place: an interrupted write leaves no half bundle.
BundleSummary write_bundle(const nlohmann::json& results, const std::filesystem::path& bundle,
                           const BundleOptions& options);

// The in-toto Statement v1 (predicate https://in-toto.io/attestation/test-result/v0.1) of a
// run: subjects are the files given (name relative to `root`) and every model file a case run
// loaded (by the digest the run recorded); configuration the scenario and policy files.
nlohmann::json intoto_statement(const nlohmann::json& results, const std::filesystem::path& root,
                                const std::vector<std::filesystem::path>& subject_files,
                                const std::vector<std::filesystem::path>& configuration_files);

// The key id (SHA-256 of the raw public key, hex) of a PEM Ed25519 key; throws an input Error
// naming the file when it holds none. `run` checks --sign-key with it before running anything.
std::string signing_key_id(const std::filesystem::path& pem);

// DSSE's pre-authentication encoding: what the signature covers.
std::string dsse_pae(const std::string& payload_type, const std::string& payload);

struct VerifyResult {
  bool ok = false;
  std::size_t files = 0;
  bool signed_ = false;
  bool signature_checked = false;
  std::vector<std::string> problems;  // each names the file concerned
  std::vector<std::string> notes;
};

// Checks a bundle directory or .tar.gz: every file against SHA256SUMS (changed, missing or
// unlisted files are named), the statement's subjects against the files, and the DSSE
// signature against `public_key` (PEM) when given. Throws an input Error when `bundle` is not a
// bundle at all or the key cannot be read.
VerifyResult verify_bundle(const std::filesystem::path& bundle,
                           const std::optional<std::filesystem::path>& public_key);

}  // namespace armorbench::reports
