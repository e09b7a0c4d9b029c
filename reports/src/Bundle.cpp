// The evidence bundle: assembled in a staging directory beside its destination, digested,
// attested (in-toto Statement v1 in a DSSE envelope), archived, and renamed into place.
#include "armorbench/reports/Bundle.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "Crypto.h"
#include "JsonField.h"
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
                     {"bytes", data.value("bytes", std::uint64_t{0})}});
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

// An earlier bundle of ours (what --bundle may replace): SHA256SUMS and a test-result statement.
bool is_bundle(const fs::path& dir) {
  if (fs::symlink_status(dir).type() != fs::file_type::directory ||
      !fs::is_regular_file(dir / kManifestFile))
    return false;
  try {
    return json::parse(read_whole_file(dir / kStatementFile)).value("predicateType", "") ==
           "https://in-toto.io/attestation/test-result/v0.1";
  } catch (const json::exception&) {
    return false;
  }
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
  if (fs::exists(destination, ec) && !is_bundle(destination))
    throw input_error("--bundle " + destination.string() +
                      " exists and is not an evidence bundle; not overwriting it");
  fs::create_directories(destination.parent_path());
  ScopedDirectory staging(destination.parent_path() /
                          ("." + destination.filename().string() + ".partial-" + random_hex(4)));
  const fs::path& root = staging.path();

  // The run's own records: results.json as write_reports writes it (from this document, never an
  // earlier run's file left in the out dir), the stream and reports of this run, and the event
  // logs of this run's case runs (named after its run id; earlier runs' logs stay out).
  write_text(root / "results.json", results.dump(2) + "\n");
  for (const char* name : {"results.jsonl", "junit.xml", "summary.md"})
    if (fs::is_regular_file(options.out_dir / name)) copy_into(options.out_dir / name, root / name);
  const std::string run_id = str(results.value("run", json::object()), "id");
  if (fs::is_directory(options.out_dir / "events"))
    for (const fs::path& file : files_below(options.out_dir / "events"))
      if (!run_id.empty() && file.filename().string().find("-" + run_id + "-") != std::string::npos)
        copy_into(options.out_dir / "events" / file, root / "events" / file);

  // What a reviewer reads, rendered from the same document.
  write_text(root / "reports/report.html", html_report(results));
  write_text(root / "reports/results.sarif", sarif_log(results).dump(2) + "\n");
  write_text(root / "reports/assessment-results.json",
             oscal_assessment_results(results).dump(2) + "\n");

  // The exact inputs.
  std::vector<fs::path> configuration;
  std::map<fs::path, std::string> named;
  for (const std::string& input : input_files(results)) {
    if (!fs::is_regular_file(input))
      throw input_error("the run's input " + input +
                        " cannot be read from here (write the bundle from the checkout that ran)");
    if (const auto [it, fresh] = named.emplace(input_name(input), input); !fresh)
      throw input_error("the run's inputs " + it->second + " and " + input +
                        " would have one name in the bundle (" + it->first.string() + ")");
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

  // Into place: the old bundle (and its archive) go only once the new one is complete.
  summary.directory = destination;
  summary.archive = destination.string() + ".tar.gz";
  if (fs::exists(destination)) remove_tree(destination);
  fs::remove(summary.archive, ec);
  fs::rename(root, destination);
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

namespace {

// The archive's members must be plain files and directories: tar would otherwise create
// symlinks, device nodes or FIFOs that the checks below could be led to read.
void check_archive_members(const fs::path& archive) {
  const CommandResult list =
      run_command({"tar", "-tvzf", archive.string()}, std::chrono::minutes(5));
  if (!list.status.exited_ok())
    throw input_error(archive.string() + ": not a readable .tar.gz: " + output_tail(list.err, 300));
  std::istringstream lines(list.out);
  std::string line;
  while (std::getline(lines, line))
    if (!line.empty() && line[0] != '-' && line[0] != 'd')
      throw input_error(archive.string() +
                        ": holds a member that is neither a file nor a "
                        "directory (an evidence bundle has none): " +
                        line);
}

// A bundle file's bytes, read only when the walk found it a regular file (never through a
// symlink, never a device or FIFO).
std::optional<std::string> read_regular(const fs::path& root, const std::set<std::string>& regular,
                                        const std::string& name) {
  if (!regular.count(name)) return std::nullopt;
  return read_whole_file(root / name);
}

}  // namespace

VerifyResult verify_bundle(const fs::path& bundle, const std::optional<fs::path>& public_key) {
  VerifyResult result;
  std::optional<ScopedDirectory> unpacked;
  fs::path root = bundle;
  if (fs::is_regular_file(bundle) && is_archive(bundle)) {
    check_archive_members(bundle);
    unpacked.emplace(fs::temp_directory_path() / ("armorbench-verify-" + random_hex(8)));
    const CommandResult tar =
        run_command({"tar", "--no-same-owner", "--no-same-permissions", "-xzf", bundle.string(),
                     "-C", unpacked->path().string()},
                    std::chrono::minutes(5));
    if (!tar.status.exited_ok())
      throw input_error(bundle.string() + ": not a readable .tar.gz: " + output_tail(tar.err, 300));
    std::vector<fs::path> tops;
    for (const auto& entry : fs::directory_iterator(unpacked->path())) tops.push_back(entry.path());
    if (tops.size() != 1 || fs::symlink_status(tops.front()).type() != fs::file_type::directory)
      throw input_error(bundle.string() + ": an evidence bundle archive holds one directory");
    root = tops.front();
  }
  if (fs::symlink_status(root).type() != fs::file_type::directory ||
      fs::symlink_status(root / kManifestFile).type() != fs::file_type::regular)
    throw input_error(bundle.string() + " is not an evidence bundle (no " + kManifestFile + ")");

  // The walk: what the bundle holds. Only regular files found here are ever read; anything else
  // (a symlink, a device, a FIFO) is a problem by itself. Symlinked directories are not entered.
  std::set<std::string> regular;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    const std::string name = entry.path().lexically_relative(root).generic_string();
    const fs::file_type type = entry.symlink_status().type();
    if (type == fs::file_type::directory) continue;
    if (type == fs::file_type::regular)
      regular.insert(name);
    else
      result.problems.push_back("unexpected: " + name + " (not a regular file)");
  }

  // SHA256SUMS: every listed file as listed.
  std::map<std::string, std::string> listed;
  {
    std::istringstream in(read_regular(root, regular, kManifestFile).value_or(""));
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
    if (!regular.count(name)) {
      result.problems.push_back("missing: " + name + " (listed in " + kManifestFile + ")");
      continue;
    }
    const std::string now = digest_of(root / name);
    if (now != sha256)
      result.problems.push_back("changed: " + name + " (sha256 " + now + ", " + kManifestFile +
                                " lists " + sha256 + ")");
  }
  for (const std::string& name : regular) {
    if (name == kManifestFile) continue;
    if (!listed.count(name))
      result.problems.push_back("added: " + name + " (not in " + kManifestFile + ")");
    else
      ++result.files;
  }

  // The statement: every bundle file attested with the digest SHA256SUMS lists.
  const std::string statement_text = read_regular(root, regular, kStatementFile).value_or("");
  try {
    const json statement = json::parse(statement_text);
    if (!statement.is_object() || statement.value("_type", "") != "https://in-toto.io/Statement/v1")
      throw std::runtime_error("not an in-toto Statement v1");
    std::map<std::string, std::string> attested;
    for (const json& s : statement.at("subject"))
      attested[s.at("name").get<std::string>()] = s.at("digest").at("sha256").get<std::string>();
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
  } catch (const std::exception& e) {
    result.problems.push_back(std::string("unreadable: ") + kStatementFile + " (" + e.what() + ")");
  }

  // The envelope: its payload is the statement, its signature by the key given. With --key,
  // nothing short of a signature that verifies passes.
  bool valid_signature = false;
  if (fs::symlink_status(root / kEnvelopeFile).type() != fs::file_type::not_found) {
    result.signed_ = true;
    try {
      const json envelope = json::parse(read_regular(root, regular, kEnvelopeFile).value_or(""));
      if (!envelope.is_object()) throw std::runtime_error("not a DSSE envelope");
      const std::string type = envelope.at("payloadType").get<std::string>();
      const auto payload = base64_decode(envelope.at("payload").get<std::string>());
      if (type != kInTotoPayloadType || !payload || *payload != statement_text)
        result.problems.push_back(std::string(kEnvelopeFile) + ": its payload is not " +
                                  kStatementFile);
      std::vector<std::string> key_ids;
      for (const json& s : envelope.at("signatures")) {
        key_ids.push_back(s.value("keyid", ""));
        if (!public_key || !payload) continue;
        result.signature_checked = true;
        const auto signature = base64_decode(s.at("sig").get<std::string>());
        if (signature && ed25519_verify(*public_key, dsse_pae(type, *payload), *signature))
          valid_signature = true;
      }
      if (!public_key)
        result.notes.push_back("signed (key id " + (key_ids.empty() ? "none" : key_ids.front()) +
                               "); the signature was not checked: give --key PUBLIC.pem");
    } catch (const Error&) {
      throw;  // the key itself cannot be read: the caller's input
    } catch (const std::exception& e) {
      result.problems.push_back(std::string("unreadable: ") + kEnvelopeFile + " (" + e.what() +
                                ")");
    }
  } else if (!public_key) {
    result.notes.push_back("not signed: the digests show integrity, not who made the bundle");
  }
  if (public_key && !valid_signature)
    result.problems.push_back(
        result.signed_ ? std::string(kEnvelopeFile) + ": no signature verifies with " +
                             public_key->string() + " (key id " + ed25519_key_id(*public_key) + ")"
                       : std::string("not signed: no ") + kEnvelopeFile + ", and --key was given");
  result.ok = result.problems.empty();
  return result;
}

}  // namespace armorbench::reports
