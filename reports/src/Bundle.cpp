// The evidence bundle: assembled in a staging directory beside its destination, digested,
// attested (in-toto Statement v1 in a DSSE envelope), archived, and renamed into place.
#include "armorbench/reports/Bundle.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "Crypto.h"
#include "armorbench/base/Base64.h"
#include "armorbench/base/Error.h"
#include "armorbench/base/Files.h"
#include "armorbench/base/Hex.h"
#include "armorbench/base/Subprocess.h"
#include "armorbench/enforcer/Enforcer.h"
#include "armorbench/harness/Results.h"
#include "armorbench/harness/Workspace.h"
#include "armorbench/reports/Html.h"
#include "armorbench/reports/Oscal.h"
#include "armorbench/reports/Sarif.h"

namespace armorbench::reports {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string str(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

std::string case_label(const json& c) {
  return str(c, "scenario") + "/" + str(c, "case") + "[" + str(c, "target") + "/" +
         str(c, "enforcer_mode") + "]";
}

// Where a file the run read (a scenario, a policy) goes in the bundle: under inputs/, at the
// path the run named it by, made relative ("/" dropped, ".." spelled "__").
fs::path input_name(const std::string& recorded) {
  fs::path out = "inputs";
  for (const fs::path& part : fs::path(recorded).lexically_normal().relative_path()) {
    const std::string s = part.string();
    if (s.empty() || s == ".") continue;
    out /= s == ".." ? "__" : s;
  }
  return out;
}

std::string digest_of(const fs::path& file) {
  const auto digest = digest_file(file);
  if (!digest) throw environment_error("cannot read " + file.string() + " to digest it");
  return digest->sha256;
}

void write_text(const fs::path& file, const std::string& content) {
  fs::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out.flush()) throw environment_error("cannot write " + file.string());
}

void copy_into(const fs::path& from, const fs::path& to) {
  fs::create_directories(to.parent_path());
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec)
    throw environment_error("cannot copy " + from.string() + " into the bundle: " + ec.message());
}

// Every regular file below `root`, relative, sorted (the manifest's and the statement's order).
std::vector<fs::path> files_below(const fs::path& root) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::recursive_directory_iterator(root))
    if (entry.symlink_status().type() == fs::file_type::regular)
      out.push_back(entry.path().lexically_relative(root));
  std::sort(out.begin(), out.end());
  return out;
}

// The model files case runs loaded, by the digest each run recorded when it handed the file over.
json model_records(const json& results) {
  json out = json::array();
  for (const json& c : results.value("cases", json::array()))
    for (const json& e : c.value("evidence", json::array())) {
      if (str(e, "kind") != "model") continue;
      const json data = e.value("data", json::object());
      out.push_back({{"case_run", case_label(c)},
                     {"file", str(data, "file")},
                     {"loader", str(data, "loader")},
                     {"sha256", str(data, "sha256")},
                     {"bytes", data.value("bytes", 0)}});
    }
  return out;
}

std::vector<std::string> input_files(const json& results) {
  std::vector<std::string> out;
  for (const json& s : results.value("scenarios", json::array())) {
    if (!str(s, "file").empty()) out.push_back(str(s, "file"));
    for (const json& p : s.value("policies", json::array()))
      if (p.is_string()) out.push_back(p.get<std::string>());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string manifest_text(const fs::path& root) {
  std::string out;
  for (const fs::path& file : files_below(root)) {
    if (file == kManifestFile) continue;
    out += digest_of(root / file) + "  " + file.generic_string() + "\n";
  }
  return out;
}

bool is_archive(const fs::path& path) {
  const std::string name = path.filename().string();
  const auto ends = [&](const std::string& suffix) {
    return name.size() > suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends(".tar.gz") || ends(".tgz");
}

}  // namespace

std::string signing_key_id(const fs::path& pem) {
  ed25519_sign(pem, "");  // a private key that signs, or an input error naming the file
  return ed25519_key_id(pem);
}

std::string dsse_pae(const std::string& payload_type, const std::string& payload) {
  return "DSSEv1 " + std::to_string(payload_type.size()) + " " + payload_type + " " +
         std::to_string(payload.size()) + " " + payload;
}

json intoto_statement(const json& results, const fs::path& root,
                      const std::vector<fs::path>& subject_files,
                      const std::vector<fs::path>& configuration_files) {
  json subjects = json::array();
  // Files below root by their path in it, others as named.
  const auto name_of = [&](const fs::path& file) {
    const fs::path inside = file.lexically_relative(root);
    return (inside.empty() || *inside.begin() == ".." ? file : inside).generic_string();
  };
  for (const fs::path& file : subject_files)
    subjects.push_back({{"name", name_of(file)}, {"digest", {{"sha256", digest_of(file)}}}});
  std::set<std::string> named;
  for (const json& model : model_records(results)) {
    const std::string name = "model:" + model.value("case_run", "") + "/" + model.value("file", "");
    if (model.value("sha256", "").empty() || !named.insert(name).second) continue;
    subjects.push_back({{"name", name}, {"digest", {{"sha256", model["sha256"]}}}});
  }
  json configuration = json::array();
  for (const fs::path& file : configuration_files)
    configuration.push_back({{"name", name_of(file)}, {"digest", {{"sha256", digest_of(file)}}}});
  json passed = json::array(), warned = json::array(), failed = json::array();
  for (const json& c : results.value("cases", json::array())) {
    const std::string id = case_label(c);
    if (str(c, "verdict") == "not-run")
      warned.push_back(id);
    else if (c.contains("passed") && c["passed"].is_boolean() && c["passed"].get<bool>())
      passed.push_back(id);
    else
      failed.push_back(id);
  }
  const int exit_code = results.value("summary", json::object()).value("exit_code", 2);
  const json run = results.value("run", json::object());
  return {{"_type", "https://in-toto.io/Statement/v1"},
          {"subject", subjects},
          {"predicateType", "https://in-toto.io/attestation/test-result/v0.1"},
          {"predicate",
           {{"result", exit_code == 0   ? "PASSED"
                       : exit_code == 3 ? "WARNED"
                                        : "FAILED"},
            {"configuration", configuration},
            {"url", "urn:armorbench:run:" + str(run, "id")},
            {"passedTests", passed},
            {"warnedTests", warned},
            {"failedTests", failed}}}};
}

BundleSummary write_bundle(const json& results, const fs::path& bundle_in,
                           const BundleOptions& options) {
  const fs::path bundle = fs::absolute(bundle_in).lexically_normal();
  const fs::path destination =
      bundle.filename().empty() ? bundle.parent_path() : bundle;  // "dir/" names dir
  std::error_code ec;
  if (fs::exists(destination, ec) &&
      !(fs::is_directory(destination) && fs::exists(destination / kManifestFile)))
    throw input_error("--bundle " + destination.string() +
                      " exists and is not an evidence bundle; not overwriting it");
  fs::create_directories(destination.parent_path());
  ScopedDirectory staging(destination.parent_path() /
                          ("." + destination.filename().string() + ".partial-" + random_hex(4)));
  const fs::path& root = staging.path();

  // The run's own records, byte for byte.
  for (const char* name : {"results.json", "results.jsonl", "junit.xml", "summary.md"})
    if (fs::is_regular_file(options.out_dir / name)) copy_into(options.out_dir / name, root / name);
  if (!fs::exists(root / "results.json")) write_text(root / "results.json", results.dump(2) + "\n");
  if (fs::is_directory(options.out_dir / "events"))
    for (const fs::path& file : files_below(options.out_dir / "events"))
      copy_into(options.out_dir / "events" / file, root / "events" / file);

  // What a reviewer reads, rendered from the same document.
  write_text(root / "reports/report.html", html_report(results));
  write_text(root / "reports/results.sarif", sarif_log(results).dump(2) + "\n");
  write_text(root / "reports/assessment-results.json",
             oscal_assessment_results(results).dump(2) + "\n");

  // The exact inputs.
  std::vector<fs::path> configuration;
  for (const std::string& input : input_files(results)) {
    if (!fs::is_regular_file(input))
      throw input_error("the run's input " + input +
                        " cannot be read from here (write the bundle from the checkout that ran)");
    copy_into(input, root / input_name(input));
    configuration.push_back(root / input_name(input));
  }
  write_text(root / "models.json", model_records(results).dump(2) + "\n");

  // The programs that enforced, and the host they ran on.
  for (const enforcer::BpfObject& object : enforcer::bpf_objects())
    write_text(root / "enforcer/bpf" / (object.name + ".bpf.o"), std::string(object.elf));
  write_text(root / "host/facts.json", results.value("host", json::object()).dump(2) + "\n");
  if (options.domain_capabilities_xml)
    write_text(root / "host/domain-capabilities.xml", *options.domain_capabilities_xml);

  // The statement over all of it, the envelope, the manifest.
  std::vector<fs::path> subjects;
  for (const fs::path& file : files_below(root)) subjects.push_back(root / file);
  const json statement = intoto_statement(results, root, subjects, configuration);
  const std::string statement_text = statement.dump(2) + "\n";
  write_text(root / kStatementFile, statement_text);
  BundleSummary summary;
  summary.subjects = statement["subject"].size();
  if (options.sign_key) {
    const std::string signature =
        ed25519_sign(*options.sign_key, dsse_pae(kInTotoPayloadType, statement_text));
    summary.key_id = ed25519_key_id(*options.sign_key);
    const json envelope = {
        {"payloadType", kInTotoPayloadType},
        {"payload", base64_encode(statement_text)},
        {"signatures",
         json::array({{{"keyid", *summary.key_id}, {"sig", base64_encode(signature)}}})}};
    write_text(root / kEnvelopeFile, envelope.dump(2) + "\n");
  }
  write_text(root / kManifestFile, manifest_text(root));
  summary.files = files_below(root).size();

  // Into place: the old bundle goes only once the new one is complete.
  if (fs::exists(destination)) remove_tree(destination);
  fs::rename(root, destination);
  summary.directory = destination;
  summary.archive = destination.string() + ".tar.gz";
  const fs::path partial = summary.archive.string() + ".partial";
  const CommandResult tar =
      run_command({"tar", "--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0",
                   "-C", destination.parent_path().string(), "-czf", partial.string(),
                   destination.filename().string()},
                  std::chrono::minutes(5));
  if (!tar.status.exited_ok()) {
    fs::remove(partial, ec);
    throw environment_error("tar could not archive the bundle: " + output_tail(tar.err, 400));
  }
  fs::rename(partial, summary.archive);
  return summary;
}

VerifyResult verify_bundle(const fs::path& bundle, const std::optional<fs::path>& public_key) {
  VerifyResult result;
  std::optional<ScopedDirectory> unpacked;
  fs::path root = bundle;
  if (fs::is_regular_file(bundle) && is_archive(bundle)) {
    unpacked.emplace(fs::temp_directory_path() / ("armorbench-verify-" + random_hex(4)));
    const CommandResult tar =
        run_command({"tar", "--no-same-owner", "--no-same-permissions", "-xzf", bundle.string(),
                     "-C", unpacked->path().string()},
                    std::chrono::minutes(5));
    if (!tar.status.exited_ok())
      throw input_error(bundle.string() + ": not a readable .tar.gz: " + output_tail(tar.err, 300));
    std::vector<fs::path> tops;
    for (const auto& entry : fs::directory_iterator(unpacked->path())) tops.push_back(entry.path());
    if (tops.size() != 1 || !fs::is_directory(tops.front()))
      throw input_error(bundle.string() + ": an evidence bundle archive holds one directory");
    root = tops.front();
  }
  if (!fs::is_directory(root) || !fs::is_regular_file(root / kManifestFile))
    throw input_error(bundle.string() + " is not an evidence bundle (no " + kManifestFile + ")");

  // SHA256SUMS: every listed file as listed.
  std::map<std::string, std::string> listed;
  {
    std::ifstream in(root / kManifestFile);
    std::string line;
    int number = 0;
    static const std::regex entry(R"(^([0-9a-f]{64})  (.+)$)");
    while (std::getline(in, line)) {
      ++number;
      std::smatch m;
      if (!std::regex_match(line, m, entry) || fs::path(m[2].str()).is_absolute() ||
          m[2].str().find("..") != std::string::npos) {
        result.problems.push_back(std::string(kManifestFile) + " line " + std::to_string(number) +
                                  ": not '<sha256>  <relative path>'");
        continue;
      }
      listed[m[2].str()] = m[1].str();
    }
  }
  for (const auto& [name, sha256] : listed) {
    const fs::path file = root / name;
    if (fs::symlink_status(file).type() != fs::file_type::regular) {
      result.problems.push_back("missing: " + name + " (listed in " + kManifestFile + ")");
      continue;
    }
    const std::string now = digest_of(file);
    if (now != sha256)
      result.problems.push_back("changed: " + name + " (sha256 " + now + ", " + kManifestFile +
                                " lists " + sha256 + ")");
  }
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    const std::string name = entry.path().lexically_relative(root).generic_string();
    if (entry.symlink_status().type() == fs::file_type::directory || name == kManifestFile)
      continue;
    if (entry.symlink_status().type() != fs::file_type::regular)
      result.problems.push_back("unexpected: " + name + " (not a regular file)");
    else if (!listed.count(name))
      result.problems.push_back("added: " + name + " (not in " + kManifestFile + ")");
    else
      ++result.files;
  }

  // The statement: every bundle file attested with the digest SHA256SUMS lists.
  const std::string statement_text = read_whole_file(root / kStatementFile);
  json statement;
  try {
    statement = json::parse(statement_text);
  } catch (const json::exception&) {
    result.problems.push_back(std::string("unreadable: ") + kStatementFile + " (not JSON)");
  }
  if (statement.is_object()) {
    if (statement.value("_type", "") != "https://in-toto.io/Statement/v1")
      result.problems.push_back(std::string(kStatementFile) + ": not an in-toto Statement v1");
    std::map<std::string, std::string> attested;
    for (const json& s : statement.value("subject", json::array()))
      attested[s.value("name", "")] = s.value("digest", json::object()).value("sha256", "");
    for (const auto& [name, sha256] : listed) {
      if (name == kStatementFile || name == kEnvelopeFile) continue;
      const auto it = attested.find(name);
      if (it == attested.end())
        result.problems.push_back(std::string(kStatementFile) + ": " + name + " is not attested");
      else if (it->second != sha256)
        result.problems.push_back(std::string(kStatementFile) + ": " + name +
                                  " attested with another digest (" + it->second + ")");
    }
    for (const auto& [name, sha256] : attested)
      if (name.rfind("model:", 0) != 0 && !listed.count(name))
        result.problems.push_back(std::string(kStatementFile) + ": attests " + name +
                                  ", which the bundle does not hold");
  }

  // The envelope: its payload is the statement, its signature by the key given.
  if (fs::exists(root / kEnvelopeFile)) {
    result.signed_ = true;
    json envelope;
    try {
      envelope = json::parse(read_whole_file(root / kEnvelopeFile));
    } catch (const json::exception&) {
      result.problems.push_back(std::string("unreadable: ") + kEnvelopeFile + " (not JSON)");
    }
    const std::string type = envelope.is_object() ? envelope.value("payloadType", "") : "";
    const auto payload = base64_decode(envelope.is_object() ? envelope.value("payload", "") : "");
    if (envelope.is_object() &&
        (type != kInTotoPayloadType || !payload || *payload != statement_text))
      result.problems.push_back(std::string(kEnvelopeFile) + ": its payload is not " +
                                kStatementFile);
    std::vector<std::string> key_ids;
    if (envelope.is_object())
      for (const json& s : envelope.value("signatures", json::array()))
        key_ids.push_back(s.value("keyid", ""));
    if (public_key && envelope.is_object() && payload) {
      result.signature_checked = true;
      bool valid = false;
      for (const json& s : envelope.value("signatures", json::array())) {
        const auto signature = base64_decode(s.value("sig", ""));
        if (signature && ed25519_verify(*public_key, dsse_pae(type, *payload), *signature))
          valid = true;
      }
      if (!valid)
        result.problems.push_back(std::string(kEnvelopeFile) + ": no signature verifies with " +
                                  public_key->string() + " (key id " + ed25519_key_id(*public_key) +
                                  ")");
    } else if (!public_key) {
      result.notes.push_back("signed (key id " + (key_ids.empty() ? "none" : key_ids.front()) +
                             "); the signature was not checked: give --key PUBLIC.pem");
    }
  } else if (public_key) {
    result.problems.push_back(std::string("not signed: no ") + kEnvelopeFile +
                              ", and --key was given");
  } else {
    result.notes.push_back("not signed: the digests show integrity, not who made the bundle");
  }
  result.ok = result.problems.empty();
  return result;
}

}  // namespace armorbench::reports
