// The reviewer formats on a hand-built run: the HTML grid and its links, SARIF findings and
// fingerprints, OSCAL findings per control, and both documents against their official JSON
// schemas (reports/tests/schemas, checked with Debian's python3-jsonschema); the in-toto
// statement and the signed bundle, verified, and failing by name when any byte changes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "SampleResults.h"
#include "armorbench/attacks/Attack.h"
#include "armorbench/base/Base64.h"
#include "armorbench/base/Files.h"
#include "armorbench/base/Hex.h"
#include "armorbench/base/Subprocess.h"
#include "armorbench/harness/Results.h"
#include "armorbench/reports/Bundle.h"
#include "armorbench/reports/Html.h"
#include "armorbench/reports/Oscal.h"
#include "armorbench/reports/Reports.h"
#include "armorbench/reports/Sarif.h"

namespace armorbench::reports {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using samples::sample_results;

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("ab-evidence-" + random_hex(6))) {
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void write(const fs::path& file, const std::string& content) {
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << content;
}

// Runs the schema validator (Debian's python3-jsonschema) on `document`; "" when valid, else
// what it printed.
std::string schema_errors(const std::string& schema, const json& document) {
  TempDir dir;
  write(dir.path() / "doc.json", document.dump(2));
  const fs::path source = ARMORBENCH_REPORTS_TESTS_DIR;
  const CommandResult result =
      run_command({"/usr/bin/python3", (source / "validate_json_schema.py").string(),
                   (source / "schemas" / schema).string(), (dir.path() / "doc.json").string()},
                  std::chrono::seconds(120));
  if (result.status.exited_ok()) return "";
  return "validator exit " + result.status.describe() + ":\n" + result.out + result.err;
}

TEST(HtmlReport, OneGridCellPerCaseRunEachLinkedToItsEvidence) {
  const json results = sample_results();
  const std::string html = html_report(results);
  const std::regex cell(R"re(data-run="(\d+)"><a href="#run-(\d+)")re");
  std::set<std::string> cells;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), cell); it != std::sregex_iterator();
       ++it) {
    EXPECT_EQ((*it)[1].str(), (*it)[2].str());
    cells.insert((*it)[1].str());
    EXPECT_NE(html.find("id=\"run-" + (*it)[1].str() + "\""), std::string::npos);
  }
  EXPECT_EQ(cells.size(), results["cases"].size());
  // The blocked run names the denial and links its positive control (the same case, off).
  const std::string blocked = html.substr(html.find("id=\"run-3\""));
  EXPECT_NE(blocked.find("block-shells"), std::string::npos);
  EXPECT_NE(blocked.substr(0, blocked.find("</section>")).find("href=\"#run-2\""),
            std::string::npos);
  // Self-contained and escaped: no script, nothing fetched, the payload text inert.
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("href=\"http"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)"), std::string::npos);
  // The charts: rates, latency per mode, overhead, start and boot.
  for (const char* title : {"Rates per configuration", "Request latency (ms)",
                            "p50 latency ratio (log scale)", "Start and boot (median, range)"})
    EXPECT_NE(html.find(std::string("aria-label=\"") + title), std::string::npos) << title;
  // A cell that missed its expectation is framed.
  EXPECT_NE(html.find("v-invalid miss\" data-run=\"9\""), std::string::npos);
}

TEST(Sarif, AFindingPerAttackThatGotThroughAndPerRunWithoutAVerdict) {
  const json log = sarif_log(sample_results());
  ASSERT_EQ(log["version"], "2.1.0");
  const json& run = log["runs"][0];
  std::set<std::string> rule_ids;
  for (const json& rule : run["tool"]["driver"]["rules"]) {
    rule_ids.insert(rule["id"].get<std::string>());
    const double severity = std::stod(rule["properties"]["security-severity"].get<std::string>());
    EXPECT_GE(severity, 0.0);
    EXPECT_LE(severity, 10.0);
  }
  for (const attacks::AttackKindInfo& kind : attacks::attack_kinds())
    EXPECT_TRUE(rule_ids.count(kind.name)) << kind.name;
  // side-door reached in block mode (expected: a documented gap, still a finding), not-run on
  // cvm, invalid on kata. Not: blocked, prevented, allowed, positive controls, audit.
  std::vector<std::string> found;
  for (const json& r : run["results"]) {
    EXPECT_TRUE(rule_ids.count(r["ruleId"].get<std::string>()));
    found.push_back(r["ruleId"].get<std::string>() + " " + r["level"].get<std::string>() + " " +
                    r["properties"]["target"].get<std::string>());
  }
  EXPECT_EQ(found, (std::vector<std::string>{"evasion error runc", "memory-dump none cvm",
                                             "cryptominer warning kata"}));
  const json& first = run["results"][0];
  EXPECT_EQ(first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "scenarios/pickle.toml");
  EXPECT_EQ(first["locations"][0]["physicalLocation"]["region"]["startLine"], 30);
  EXPECT_NE(first["message"]["text"].get<std::string>().find("documented gap"), std::string::npos);
}

TEST(Sarif, FingerprintsStayAcrossRunsAndLinesAndDifferBetweenFindings) {
  json a = sample_results("aaaa0001"), b = sample_results("bbbb0002");
  b["cases"][6]["line"] = 99;
  b["cases"][6]["reason"] = "worded otherwise";
  const auto prints = [](const json& results) {
    std::vector<std::string> out;
    const json log = sarif_log(results);
    for (const json& r : log["runs"][0]["results"])
      out.push_back(r["partialFingerprints"]["armorbenchCaseRun/v1"]);
    return out;
  };
  EXPECT_EQ(prints(a), prints(b));
  const std::vector<std::string> p = prints(a);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(std::set<std::string>(p.begin(), p.end()).size(), p.size());
  json c = a;
  c["cases"][6]["target"] = "crun";
  EXPECT_NE(prints(c)[0], p[0]);
}

TEST(Sarif, ValidatesAgainstTheSarif210Schema) {
  const std::string errors = schema_errors("sarif-schema-2.1.0.json", sarif_log(sample_results()));
  EXPECT_EQ(errors, "");
  // The validator does reject what the schema forbids (so a pass above means something).
  json broken = sarif_log(sample_results());
  broken["runs"][0]["results"][0]["level"] = "fatal";
  EXPECT_NE(schema_errors("sarif-schema-2.1.0.json", broken).find("level"), std::string::npos);
}

TEST(Oscal, ControlIdsFollowOscalsForm) {
  EXPECT_EQ(oscal_control_id("SI-3"), "si-3");
  EXPECT_EQ(oscal_control_id("CM-7(2)"), "cm-7.2");
  EXPECT_EQ(oscal_control_id("SC-7(21)"), "sc-7.21");
  EXPECT_EQ(oscal_control_id("OWASP-LLM05"), std::nullopt);
  EXPECT_EQ(oscal_control_id("SI-"), std::nullopt);
  // RFC 4122 v5 in our namespace: the same value Python's uuid.uuid5 gives.
  EXPECT_EQ(uuid_v5("test"), "f5ce5169-e20b-5263-a00f-b20dfd1d2f59");
}

TEST(Oscal, AFindingPerControlSatisfiedOnlyWhenEveryJudgedRunHeld) {
  const json doc = oscal_assessment_results(sample_results());
  const json& result = doc["assessment-results"]["results"][0];
  EXPECT_EQ(result["observations"].size(), 10u);
  for (const json& o : result["observations"]) EXPECT_EQ(o["methods"], json::array({"TEST"}));
  std::map<std::string, std::string> state;
  std::map<std::string, std::set<std::string>> owasp;
  for (const json& f : result["findings"]) {
    const std::string id = f["target"]["target-id"];
    state[id] = f["target"]["status"]["state"];
    for (const json& p : f["props"])
      if (p["name"] == "owasp-llm") owasp[id].insert(p["value"].get<std::string>());
  }
  // pickle: side-door reached in block mode -> SI-3 and CM-7(2) not satisfied.
  EXPECT_EQ(state["si-3_obj"], "not-satisfied");
  EXPECT_EQ(state["cm-7.2_obj"], "not-satisfied");
  EXPECT_EQ(owasp["si-3_obj"], std::set<std::string>{"LLM05"});
  // vm: prevented on kata (held), cvm not run (not judged), the miner invalid (did not hold).
  EXPECT_EQ(state["sc-28_obj"], "not-satisfied");
  json all_held = sample_results();
  all_held["cases"][9]["verdict"] = "blocked";
  const json held = oscal_assessment_results(all_held);
  for (const json& f : held["assessment-results"]["results"][0]["findings"])
    if (f["target"]["target-id"] == "sc-28_obj") {
      EXPECT_EQ(f["target"]["status"]["state"], "satisfied");
      EXPECT_NE(f["description"].get<std::string>().find("1 not run"), std::string::npos);
    }
  // Deterministic: the same results give the same document.
  EXPECT_EQ(doc, oscal_assessment_results(sample_results()));
}

TEST(Oscal, ValidatesAgainstTheOscal113AssessmentResultsSchema) {
  const json doc = oscal_assessment_results(sample_results());
  EXPECT_EQ(schema_errors("oscal_assessment-results_schema.json", doc), "");
  json broken = doc;
  broken["assessment-results"]["results"][0]["findings"][0]["target"]["status"]["state"] = "passed";
  EXPECT_NE(schema_errors("oscal_assessment-results_schema.json", broken), "");
}

// A finished run's out dir and inputs in a temp dir, with the recorded paths pointing there.
struct RunOnDisk {
  TempDir dir;
  json results;
  fs::path out;

  RunOnDisk() : results(sample_results()), out(dir.path() / "out") {
    for (json& s : results["scenarios"]) {
      const fs::path file = dir.path() / s["file"].get<std::string>();
      write(file, "[scenario]\nname = \"" + s["name"].get<std::string>() + "\"\n");
      s["file"] = file.string();
      for (json& p : s["policies"]) {
        write(dir.path() / p.get<std::string>(), "kind: KubeArmorPolicy\n");
        p = (dir.path() / p.get<std::string>()).string();
      }
    }
    write(out / "results.json", results.dump(2) + "\n");
    write(out / "results.jsonl", "{}\n");
    write(out / "events/pickle/runc-ab-0badcafe-3.jsonl", "{\"operation\":\"exec\"}\n");
    // An earlier run's log left in the same out dir: not this run's evidence.
    write(out / "events/pickle/runc-ab-deadbeef-3.jsonl", "{\"operation\":\"open\"}\n");
  }

  fs::path key(const std::string& name) {
    const fs::path pem = dir.path() / (name + ".pem"), pub = dir.path() / (name + ".pub");
    EXPECT_TRUE(run_command({"openssl", "genpkey", "-algorithm", "ed25519", "-out", pem.string()},
                            std::chrono::seconds(30))
                    .status.exited_ok());
    EXPECT_TRUE(
        run_command({"openssl", "pkey", "-in", pem.string(), "-pubout", "-out", pub.string()},
                    std::chrono::seconds(30))
            .status.exited_ok());
    return pem;
  }

  // The bundle of this run at dir/b, signed with `key` when given.
  fs::path bundle(const std::optional<fs::path>& key) {
    BundleOptions options;
    options.out_dir = out;
    options.sign_key = key;
    const fs::path at = dir.path() / "b";
    write_bundle(results, at, options);
    return at;
  }
};

std::string problems(const VerifyResult& result) {
  std::string out;
  for (const std::string& p : result.problems) out += p + "\n";
  return out;
}

// What a forger can do without the key: change results.json and redo the statement's digest
// for it (the envelope, if any, left as it is); then redo the manifest.
void forge(const fs::path& bundle) {
  write(bundle / "results.json", "{\"forged\": true}\n");
  json statement = json::parse(read_whole_file(bundle / kStatementFile));
  for (json& s : statement["subject"])
    if (s["name"] == "results.json")
      s["digest"]["sha256"] = digest_file(bundle / "results.json")->sha256;
  write(bundle / kStatementFile, statement.dump(2) + "\n");
}

void rewrite_manifest(const fs::path& bundle) {
  std::string manifest;
  for (const auto& entry : fs::recursive_directory_iterator(bundle))
    if (entry.is_regular_file() && entry.path().filename() != kManifestFile)
      manifest += digest_file(entry.path())->sha256 + "  " +
                  entry.path().lexically_relative(bundle).generic_string() + "\n";
  write(bundle / kManifestFile, manifest);
}

TEST(Bundle, SignedBundleVerifiesAndNamesAnyChangedAddedOrMissingFile) {
  RunOnDisk run;
  const fs::path key = run.key("signer");
  const fs::path pub = fs::path(key).replace_extension(".pub");
  BundleOptions options;
  options.out_dir = run.out;
  options.sign_key = key;
  options.domain_capabilities_xml = "<domainCapabilities/>";
  const fs::path bundle = run.dir.path() / "bundle";
  const BundleSummary summary = write_bundle(run.results, bundle, options);
  ASSERT_TRUE(summary.key_id.has_value());
  for (const char* file :
       {"results.json", "results.jsonl", "events/pickle/runc-ab-0badcafe-3.jsonl",
        "reports/report.html", "reports/results.sarif", "reports/assessment-results.json",
        "models.json", "host/facts.json", "host/domain-capabilities.xml", "enforcer/bpf/file.bpf.o",
        kStatementFile, kEnvelopeFile, kManifestFile})
    EXPECT_TRUE(fs::is_regular_file(bundle / file)) << file;
  EXPECT_FALSE(fs::exists(bundle / "events/pickle/runc-ab-deadbeef-3.jsonl"));
  // The run's results.json byte for byte; the scenario and policy files as they were.
  EXPECT_EQ(read_whole_file(bundle / "results.json"), read_whole_file(run.out / "results.json"));
  const fs::path scenario = run.results["scenarios"][0]["file"].get<std::string>();
  EXPECT_TRUE(fs::is_regular_file(bundle / "inputs" / scenario.relative_path()));
  EXPECT_TRUE(fs::is_regular_file(summary.archive));
  // sha256sum agrees with our manifest (a reviewer needs nothing of ours to check digests).
  EXPECT_TRUE(
      run_command({"sh", "-c", "cd '" + bundle.string() + "' && sha256sum -c --quiet SHA256SUMS"},
                  std::chrono::seconds(60))
          .status.exited_ok());

  VerifyResult ok = verify_bundle(bundle, pub);
  EXPECT_TRUE(ok.ok) << problems(ok);
  EXPECT_TRUE(ok.signature_checked);
  EXPECT_EQ(ok.files + 1, summary.files);  // every file checked but SHA256SUMS itself
  VerifyResult archive = verify_bundle(summary.archive, pub);
  EXPECT_TRUE(archive.ok) << problems(archive);

  // One byte of results.json.
  std::string text = read_whole_file(bundle / "results.json");
  text[text.size() / 2] = text[text.size() / 2] == 'x' ? 'y' : 'x';
  write(bundle / "results.json", text);
  VerifyResult changed = verify_bundle(bundle, pub);
  EXPECT_FALSE(changed.ok);
  ASSERT_EQ(changed.problems.size(), 1u) << problems(changed);
  EXPECT_EQ(changed.problems[0].rfind("changed: results.json", 0), 0u) << changed.problems[0];

  // An added file, a removed one.
  write(bundle / "events/extra.jsonl", "{}\n");
  fs::remove(bundle / "models.json");
  const std::string both = problems(verify_bundle(bundle, pub));
  EXPECT_NE(both.find("added: events/extra.jsonl"), std::string::npos) << both;
  EXPECT_NE(both.find("missing: models.json"), std::string::npos) << both;
}

TEST(Bundle, ARewrittenManifestAndStatementFailTheSignatureAndAnotherKeyFails) {
  RunOnDisk run;
  const fs::path key = run.key("signer");
  const fs::path other = run.key("other");
  const fs::path bundle = run.bundle(key);
  EXPECT_FALSE(verify_bundle(bundle, fs::path(other).replace_extension(".pub")).ok);
  // Without a key only integrity is checked, and the output says so.
  const VerifyResult unkeyed = verify_bundle(bundle, std::nullopt);
  EXPECT_TRUE(unkeyed.ok);
  EXPECT_FALSE(unkeyed.signature_checked);
  ASSERT_FALSE(unkeyed.notes.empty());

  // A forger edits results.json and redoes the statement and the manifest consistently: only
  // the signature catches it.
  forge(bundle);
  rewrite_manifest(bundle);
  const VerifyResult forged = verify_bundle(bundle, fs::path(key).replace_extension(".pub"));
  EXPECT_FALSE(forged.ok);
  EXPECT_NE(problems(forged).find(kEnvelopeFile), std::string::npos) << problems(forged);
}

TEST(Bundle, WithAKeyOnlyAValidSignaturePassesAndNothingButFilesIsRead) {
  RunOnDisk run;
  const fs::path key = run.key("signer");
  const fs::path pub = fs::path(key).replace_extension(".pub");
  const fs::path bundle = run.bundle(key);
  // A forger rewrites results.json, the statement and the manifest, and replaces the envelope
  // with JSON that is no envelope at all: with --key that must fail, not pass quietly.
  forge(bundle);
  for (const char* envelope : {"[]", "null", "{}", "{\"payloadType\": 5}"}) {
    write(bundle / kEnvelopeFile, envelope);
    rewrite_manifest(bundle);
    EXPECT_FALSE(verify_bundle(bundle, pub).ok) << envelope;
    EXPECT_FALSE(verify_bundle(bundle, std::nullopt).ok) << envelope;
  }
  // A symlink in the bundle is a problem by itself and is never followed.
  const fs::path clean = run.bundle(key);
  fs::create_symlink("/proc/self/status", clean / "events/link.jsonl");
  const std::string found = problems(verify_bundle(clean, pub));
  EXPECT_NE(found.find("unexpected: events/link.jsonl (not a regular file)"), std::string::npos)
      << found;
  // --bundle replaces only a bundle: a directory that merely holds a SHA256SUMS is left alone.
  write(run.dir.path() / "isos/SHA256SUMS", "abc  x.iso\n");
  BundleOptions options;
  options.out_dir = run.out;
  EXPECT_THROW(write_bundle(run.results, run.dir.path() / "isos", options), Error);
  EXPECT_TRUE(fs::exists(run.dir.path() / "isos/SHA256SUMS"));
}

TEST(Bundle, TheDsseSignatureIsPlainEd25519OverThePae) {
  // DSSE's published example of the pre-authentication encoding.
  EXPECT_EQ(dsse_pae("http://example.com/HelloWorld", "hello world"),
            "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
  // OpenSSL's own tool accepts our signature over that encoding.
  RunOnDisk run;
  const fs::path key = run.key("signer");
  const fs::path bundle = run.bundle(key);
  const json envelope = json::parse(read_whole_file(bundle / kEnvelopeFile));
  const std::string statement = read_whole_file(bundle / kStatementFile);
  write(run.dir.path() / "pae.bin", dsse_pae(kInTotoPayloadType, statement));
  const auto signature = base64_decode(envelope["signatures"][0]["sig"].get<std::string>());
  ASSERT_TRUE(signature.has_value());
  write(run.dir.path() / "sig.bin", *signature);
  const CommandResult check = run_command(
      {"openssl", "pkeyutl", "-verify", "-pubin", "-inkey",
       fs::path(key).replace_extension(".pub").string(), "-rawin", "-in",
       (run.dir.path() / "pae.bin").string(), "-sigfile", (run.dir.path() / "sig.bin").string()},
      std::chrono::seconds(30));
  EXPECT_TRUE(check.status.exited_ok()) << check.out << check.err;
}

TEST(Bundle, StatementAttestsEveryFileAndTheModelsAndRefusesToOverwriteOtherData) {
  RunOnDisk run;
  const fs::path bundle = run.bundle(std::nullopt);
  BundleOptions options;
  options.out_dir = run.out;
  const json statement = json::parse(read_whole_file(bundle / kStatementFile));
  EXPECT_EQ(statement["_type"], "https://in-toto.io/Statement/v1");
  EXPECT_EQ(statement["predicateType"], "https://in-toto.io/attestation/test-result/v0.1");
  EXPECT_EQ(statement["predicate"]["result"], "FAILED");        // exit code 1
  EXPECT_EQ(statement["predicate"]["warnedTests"].size(), 1u);  // the cvm run
  std::map<std::string, std::string> subjects;
  for (const json& s : statement["subject"]) subjects[s["name"]] = s["digest"]["sha256"];
  EXPECT_EQ(subjects["results.json"], digest_file(bundle / "results.json")->sha256);
  int models = 0;
  for (const auto& [name, digest] : subjects) models += name.rfind("model:", 0) == 0;
  EXPECT_EQ(models, 10);
  EXPECT_FALSE(fs::exists(bundle / kEnvelopeFile));
  EXPECT_TRUE(verify_bundle(bundle, std::nullopt).ok);
  // Writing again replaces the bundle; a directory that is not one is left alone.
  write_bundle(run.results, bundle, options);
  write(run.dir.path() / "data/keep.txt", "mine");
  EXPECT_THROW(write_bundle(run.results, run.dir.path() / "data", options), Error);
  EXPECT_EQ(read_whole_file(run.dir.path() / "data/keep.txt"), "mine");
  // No staging directory is left beside it.
  for (const auto& entry : fs::directory_iterator(run.dir.path()))
    EXPECT_EQ(entry.path().filename().string().find(".partial"), std::string::npos);
}

TEST(Reports, ReportCommandFormatsRenderFromTheDocumentAlone) {
  RunOnDisk run;
  write_document_reports(run.results, run.out, document_formats());
  for (const std::string& format : document_formats())
    EXPECT_TRUE(fs::is_regular_file(run.out / report_file_name(format))) << format;
  const json statement = json::parse(read_whole_file(run.out / kStatementFile));
  std::set<std::string> names;
  for (const json& s : statement["subject"]) names.insert(s["name"]);
  for (const char* name :
       {"results.json", "results.jsonl", "events/pickle/runc-ab-0badcafe-3.jsonl", "report.html",
        "results.sarif", "assessment-results.json"})
    EXPECT_TRUE(names.count(name)) << name;
  EXPECT_EQ(statement["predicate"]["configuration"].size(), 3u);  // 2 scenarios, 1 policy
}

}  // namespace
}  // namespace armorbench::reports
