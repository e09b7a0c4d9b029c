// The armorbench CLI: run, report, verify, bench, compare, merge, validate, list, doctor, clean,
// version (README "CLI reference"). Errors are caught here, once, and mapped to the documented exit
// codes.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "armorbench/base/Error.h"
#include "armorbench/base/Interrupt.h"
#include "armorbench/harness/Compare.h"
#include "armorbench/harness/Doctor.h"
#include "armorbench/harness/InferenceBench.h"
#include "armorbench/harness/Orchestrator.h"
#include "armorbench/harness/ScenarioLoader.h"
#include "armorbench/harness/StaleRuns.h"
#include "armorbench/reports/Bundle.h"
#include "armorbench/reports/Reports.h"
#include "armorbench/vms/DomainCapabilities.h"

namespace armorbench {
namespace {
namespace fs = std::filesystem;

constexpr int kInterruptedExit = 130;

const char* kUsage = R"(usage: armorbench <command> [options]

commands:
  run PATH... [--out DIR] [--filter GLOB] [--target NAME] [--format LIST] [--keep-work]
             [--shard I/N] [--gate KEY=VALUE]... [--baseline BASE.json [--max-slowdown R]]
             [--jobs N] [--bundle DIR [--sign-key KEY.pem]] [--resume DIR]
      run every case x target x enforcer mode of the scenario files (a directory means all
      *.toml in it); writes results.json, results.jsonl and the reports to --out (default
      out/). --format picks from json,junit,markdown,html,sarif,oscal,intoto (default: all).
      --bundle writes the evidence bundle (DIR and DIR.tar.gz), signed with an Ed25519 key
      when --sign-key is given. --shard runs
      the I-th of N deterministic slices (whole cases); --gate overrides a [gate] key of every
      scenario; --baseline compares with an earlier results.json (compare.md, compare.json)
      and fails the run on a regression. --jobs 2 lets VM runs go beside container runs
      (two lanes at most; container runs one at a time); default 2 from 4 cores, else 1.
      --resume DIR continues an interrupted or killed run whose --out was DIR (same
      scenarios, policies and options): the case runs in its results.jsonl are kept.
  compare BASE.json NEW.json [--format markdown|json] [--out FILE] [--max-slowdown R]
      verdict changes (weaker is a regression), latency changes (p50 ratio with a bootstrap
      95% interval; a regression when it lies above R, default 1.10), cases added and
      removed; exit 1 on a regression
  merge SHARD.json... [--out DIR] [--format LIST] [--gate KEY=VALUE]...
      the results.json of every shard of one run as that run's results (run from the
      checkout the shards ran, which holds their scenario files)
  report RESULTS.json [--format LIST] [--out DIR]
      re-render a saved run: html, sarif, oscal, intoto (default: all four) into --out
      (default: the directory of RESULTS.json)
  verify BUNDLE [--key PUBLIC.pem]
      check an evidence bundle (directory or .tar.gz): every file against SHA256SUMS, the
      in-toto statement's subjects, and its signature with --key; names any changed file;
      exit 1 when it does not verify
  bench [--rounds N] [--requests K] [--policy FILE]... [--backend B] [--json FILE]
      the enforcer's cost on benign inference to the noise floor: one runc container, rounds
      of off, audit, block, off again (the enforcer loaded, swapped, torn down in between);
      ratios with bootstrap 95% intervals, the off-again/off ratio is the run's noise floor
  validate PATH...   check scenario files (syntax and semantics) without running anything
  list PATH...       print the case runs a `run` would execute, in order
  doctor [--json]    probe this host: root, runtimes, BPF program types, tracefs, cgroup v2,
                     libvirt, KVM, SEV/SEV-SNP/TDX
  clean [--dry-run]  remove what killed runs left behind (containers, mounts, cgroups, work
                     dirs of runs whose process is gone); `run` does this first, too
  version            print the version

exit codes: 0 all gates pass, 1 a gate failed, 2 harness error, 3 nothing could run on this
host, 4 usage or invalid input, 130 interrupted
)";

struct Arguments {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;
  std::set<std::string> flags;
  std::vector<std::string> gates;                            // every --gate, in order
  std::map<std::string, std::vector<std::string>> repeated;  // every value of each option

  std::vector<std::string> all(const std::string& option) const {
    const auto it = repeated.find(option);
    return it == repeated.end() ? std::vector<std::string>{} : it->second;
  }
};

// Parses "--name value" options and "--flag" flags; anything else unknown is a usage error.
Arguments parse_arguments(int argc, char** argv, int first, const std::set<std::string>& valued,
                          const std::set<std::string>& flags) {
  Arguments args;
  for (int i = first; i < argc; ++i) {
    std::string word = argv[i];
    if (word.rfind("--", 0) != 0) {
      args.positional.push_back(word);
      continue;
    }
    std::string value;
    if (auto eq = word.find('='); eq != std::string::npos) {
      value = word.substr(eq + 1);
      word = word.substr(0, eq);
      if (!valued.count(word)) throw input_error("option " + word + " takes no value");
      args.options[word] = value;
      args.repeated[word].push_back(value);
      if (word == "--gate") args.gates.push_back(value);
      continue;
    }
    if (flags.count(word)) {
      args.flags.insert(word);
    } else if (valued.count(word)) {
      if (i + 1 >= argc) throw input_error("option " + word + " needs a value");
      args.options[word] = argv[++i];
      args.repeated[word].push_back(args.options[word]);
      if (word == "--gate") args.gates.push_back(args.options[word]);
    } else {
      throw input_error("unknown option " + word + " (see armorbench help)");
    }
  }
  return args;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, separator))
    if (!part.empty()) parts.push_back(part);
  return parts;
}

fs::path self_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::current_path() : exe.parent_path();
}

fs::path data_dir() {
  if (const char* env = std::getenv("ARMORBENCH_DATA_DIR")) return env;
  return ARMORBENCH_DATA_DIR;
}

std::string run_label(const PlannedRun& run) {
  return run.scenario->name + "/" + run.case_spec->name + " [" + run.target->name + "/" +
         to_string(run.mode) + "]";
}

std::vector<std::string> parse_formats(const Arguments& args) {
  std::vector<std::string> formats = reports::known_formats();
  if (auto it = args.options.find("--format"); it != args.options.end()) {
    formats = split(it->second, ',');
    for (const std::string& format : formats) {
      const auto& known = reports::known_formats();
      if (std::find(known.begin(), known.end(), format) == known.end())
        throw input_error("unknown format '" + format +
                          "' (known: json, junit, markdown, html, sarif, oscal, intoto)");
    }
  }
  return formats;
}

nlohmann::json read_results(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw input_error("cannot read " + path);
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw input_error(path + ": not JSON: " + e.what());
  }
}

CompareOptions compare_options(const Arguments& args) {
  CompareOptions options;
  if (args.options.count("--max-slowdown")) {
    const std::string text = args.options.at("--max-slowdown");
    char* end = nullptr;
    options.max_slowdown = std::strtod(text.c_str(), &end);
    if (end == text.c_str() || *end != '\0' || options.max_slowdown <= 0)
      throw input_error("--max-slowdown " + text + ": expected a ratio such as 1.10");
  }
  return options;
}

// The value of option `key` as a positive integer (`fallback` when absent).
int positive_number(const Arguments& args, const char* key, int fallback) {
  if (!args.options.count(key)) return fallback;
  const std::string text = args.options.at(key);
  std::size_t used = 0;
  int value = 0;
  try {
    value = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || value < 1)
    throw input_error(std::string(key) + " " + text + ": expected a positive integer");
  return value;
}

int command_run(int argc, char** argv) {
  const Arguments args = parse_arguments(
      argc, argv, 2,
      {"--out", "--filter", "--target", "--format", "--shard", "--gate", "--baseline",
       "--max-slowdown", "--jobs", "--bundle", "--sign-key", "--resume"},
      {"--keep-work"});
  if (args.positional.empty())
    throw input_error("run needs at least one scenario file or directory");
  const std::vector<std::string> formats = parse_formats(args);
  std::vector<Scenario> scenarios = load_scenarios(args.positional);
  for (Scenario& s : scenarios) s.gate = with_gate_overrides(s.gate, args.gates);
  std::optional<Shard> shard;
  if (args.options.count("--shard")) shard = parse_shard(args.options.at("--shard"));
  std::optional<nlohmann::json> baseline;
  if (args.options.count("--baseline")) baseline = read_results(args.options.at("--baseline"));
  const CompareOptions compare = compare_options(args);
  std::optional<fs::path> sign_key;
  if (args.options.count("--sign-key")) {
    if (!args.options.count("--bundle")) throw input_error("--sign-key signs a --bundle; give one");
    sign_key = args.options.at("--sign-key");
    reports::signing_key_id(*sign_key);  // a bad key fails now, not after the run
  }

  // A run killed before its cleanup (SIGKILL, OOM) leaves containers still holding memory.
  if (::geteuid() == 0) {
    const auto reaped = reap_stale_runs(ReapOptions{});
    if (!reaped.empty())
      std::cerr << "armorbench: leftovers of runs whose process is gone:\n"
                << describe(reaped, false);
  }

  RunOptions options;
  options.out_dir = args.options.count("--out") ? args.options.at("--out") : "out";
  if (args.options.count("--resume")) {
    const fs::path dir = args.options.at("--resume");
    if (args.options.count("--out") &&
        fs::weakly_canonical(args.options.at("--out")) != fs::weakly_canonical(dir))
      throw input_error("--resume DIR continues the run whose --out is DIR: give no other --out");
    options.out_dir = dir;
    options.resume = true;
  }
  if (args.options.count("--filter")) options.filter = args.options.at("--filter");
  if (args.options.count("--target")) options.target = args.options.at("--target");
  options.shard = shard;
  options.gate_overrides = args.gates;
  options.data_dir = data_dir();
  options.bin_dir = self_dir();
  options.keep_work = args.flags.count("--keep-work") > 0;
  // A lane's CPU-bound phases (a model server's start, a VM under TCG) want a core each, with
  // cores to spare for the requests being timed: measured on 2 cores, a VM lane beside the
  // container lane made benign p50 latencies 1.3-4x slower for a 20% shorter run (README "Speed").
  options.jobs = std::thread::hardware_concurrency() >= 4 ? 2 : 1;
  if (args.options.count("--jobs")) options.jobs = positive_number(args, "--jobs", 1);

  const bool tty = ::isatty(STDERR_FILENO);
  ProgressSink progress;
  progress.started = [&](std::size_t i, std::size_t total, const PlannedRun& run) {
    if (tty)
      std::fprintf(stderr, "\r\033[K[%zu/%zu] %s running...", i + 1, total, run_label(run).c_str());
  };
  progress.finished = [&](std::size_t i, std::size_t total, const CaseResult& result) {
    std::fprintf(
        stderr, "%s[%zu/%zu] %s %s (%.1fs)%s%s\n", tty ? "\r\033[K" : "", i + 1, total,
        result.id().c_str(), to_string(result.verdict).c_str(), result.duration_s,
        result.passed() || result.verdict == Verdict::kNotRun ? "" : " UNEXPECTED: ",
        result.passed() || result.verdict == Verdict::kNotRun ? "" : result.reason.c_str());
  };

  RunResults results = run_matrix(scenarios, options, progress);
  if (results.run.contains("resumed"))
    std::cerr << "armorbench: resumed run " << results.run["resumed"]["from"].get<std::string>()
              << ": kept " << results.run["resumed"]["kept"] << " finished case runs, ran "
              << results.run["resumed"]["to_run"] << "\n";
  if (baseline) {
    // Compared as written: the same document `armorbench compare` would read.
    const Comparison comparison = compare_results(*baseline, results.to_json(), compare);
    write_file_atomically(options.out_dir / "compare.md", comparison.markdown());
    write_file_atomically(options.out_dir / "compare.json", comparison.to_json().dump(2) + "\n");
    results.gates.push_back(
        {"", "baseline", !comparison.regression(), true,
         comparison.regression()
             ? "regression against " + args.options.at("--baseline") + " (compare.md) FAILED"
             : "no regression against " + args.options.at("--baseline") + " (" +
                   std::to_string(comparison.matched) + " case runs in both)"});
    results.exit_code = run_exit_code(results.cases, results.gates);
  }
  reports::write_reports(results, options.out_dir, formats);
  std::cout << reports::summary_table(results);
  std::cout << "results: " << (options.out_dir / "results.json").string() << "\n";
  if (args.options.count("--bundle")) {
    reports::BundleOptions bundle;
    bundle.out_dir = options.out_dir;
    bundle.sign_key = sign_key;
    const vms::LibvirtProbe libvirt = vms::probe_libvirt("qemu:///system");
    if (!libvirt.capabilities_xml.empty())
      bundle.domain_capabilities_xml = libvirt.capabilities_xml;
    const reports::BundleSummary written =
        reports::write_bundle(results.to_json(), args.options.at("--bundle"), bundle);
    std::cout << "bundle: " << written.directory.string() << " and " << written.archive.string()
              << " (" << written.files << " files, " << written.subjects << " attested subjects"
              << (written.key_id ? ", signed by key " + *written.key_id : ", unsigned") << ")\n";
  }
  return static_cast<int>(results.exit_code);
}

int command_report(int argc, char** argv) {
  const Arguments args = parse_arguments(argc, argv, 2, {"--format", "--out"}, {});
  if (args.positional.size() != 1) throw input_error("report needs one results.json");
  std::vector<std::string> formats = reports::document_formats();
  if (args.options.count("--format")) {
    formats = split(args.options.at("--format"), ',');
    for (const std::string& format : formats) {
      const auto& known = reports::document_formats();
      if (std::find(known.begin(), known.end(), format) == known.end())
        throw input_error("report renders html, sarif, oscal and intoto, not '" + format +
                          "' (json, junit and markdown are written by run and merge)");
    }
  }
  const nlohmann::json results = read_results(args.positional[0]);
  if (!results.is_object() || !results.contains("cases") || !results.contains("run"))
    throw input_error(args.positional[0] + ": not a results.json (no run or cases)");
  const fs::path out = args.options.count("--out") ? fs::path(args.options.at("--out"))
                                                   : fs::path(args.positional[0]).parent_path();
  reports::write_document_reports(results, out.empty() ? fs::path(".") : out, formats);
  for (const std::string& format : formats)
    std::cout << format << ": "
              << ((out.empty() ? fs::path(".") : out) / reports::report_file_name(format)).string()
              << "\n";
  return 0;
}

int command_verify(int argc, char** argv) {
  const Arguments args = parse_arguments(argc, argv, 2, {"--key"}, {});
  if (args.positional.size() != 1)
    throw input_error("verify needs one bundle (directory or .tar.gz)");
  std::optional<fs::path> key;
  if (args.options.count("--key")) key = args.options.at("--key");
  const reports::VerifyResult result = reports::verify_bundle(args.positional[0], key);
  for (const std::string& problem : result.problems) std::cout << "FAILED " << problem << "\n";
  for (const std::string& note : result.notes) std::cout << "note: " << note << "\n";
  if (result.ok)
    std::cout << "verified: " << result.files << " files match SHA256SUMS and the in-toto "
              << "statement" << (result.signature_checked ? "; the signature is valid" : "")
              << "\n";
  else
    std::cout << "NOT verified: " << result.problems.size() << " problem(s)\n";
  return result.ok ? 0 : static_cast<int>(ExitCode::kGateFailed);
}

int command_compare(int argc, char** argv) {
  const Arguments args =
      parse_arguments(argc, argv, 2, {"--format", "--out", "--max-slowdown"}, {});
  if (args.positional.size() != 2) throw input_error("compare needs BASE.json and NEW.json");
  const CompareOptions options = compare_options(args);
  const std::string format =
      args.options.count("--format") ? args.options.at("--format") : "markdown";
  if (format != "markdown" && format != "json")
    throw input_error("unknown compare format '" + format + "' (markdown or json)");
  const Comparison comparison =
      compare_results(read_results(args.positional[0]), read_results(args.positional[1]), options);
  const std::string text =
      format == "json" ? comparison.to_json().dump(2) + "\n" : comparison.markdown();
  if (args.options.count("--out"))
    write_file_atomically(args.options.at("--out"), text);
  else
    std::cout << text;
  return comparison.regression() ? static_cast<int>(ExitCode::kGateFailed) : 0;
}

int command_bench(int argc, char** argv) {
  const Arguments args = parse_arguments(
      argc, argv, 2, {"--rounds", "--requests", "--policy", "--backend", "--json"}, {});
  if (!args.positional.empty()) throw input_error("bench takes no positional arguments");
  InferenceBenchOptions options;
  options.data_dir = data_dir();
  options.bin_dir = self_dir();
  options.rounds = positive_number(args, "--rounds", options.rounds);
  options.requests = positive_number(args, "--requests", options.requests);
  for (const std::string& policy : args.all("--policy")) options.policies.push_back(policy);
  if (options.policies.empty())
    options.policies = {options.data_dir / "scenarios/policies/model-server.yaml",
                        options.data_dir / "scenarios/policies/memory-protection.toml"};
  if (args.options.count("--backend")) {
    const auto backend = backend_from_string(args.options.at("--backend"));
    if (!backend)
      throw input_error("--backend " + args.options.at("--backend") +
                        ": expected auto, tracepoint or bpf-lsm");
    options.backend = *backend;
  }
  const InferenceBenchResult result = run_inference_bench(options);
  std::cout << result.table();
  if (args.options.count("--json"))
    write_file_atomically(args.options.at("--json"), result.to_json().dump(2) + "\n");
  return 0;
}

int command_merge(int argc, char** argv) {
  const Arguments args = parse_arguments(argc, argv, 2, {"--out", "--format", "--gate"}, {});
  if (args.positional.empty()) throw input_error("merge needs the results.json of every shard");
  const std::vector<std::string> formats = parse_formats(args);
  std::vector<nlohmann::json> shards;
  for (const std::string& path : args.positional) shards.push_back(read_results(path));
  check_shards(shards);
  std::vector<std::string> files;
  for (const auto& s : shards.front().value("scenarios", nlohmann::json::array()))
    files.push_back(s.value("file", ""));
  std::vector<Scenario> scenarios = load_scenarios(files);
  std::vector<std::string> overrides =
      shards.front()["run"].value("gate_overrides", std::vector<std::string>{});
  overrides.insert(overrides.end(), args.gates.begin(), args.gates.end());
  for (Scenario& s : scenarios) s.gate = with_gate_overrides(s.gate, overrides);
  RunResults results = merge_shards(shards, scenarios);
  if (!overrides.empty()) results.run["gate_overrides"] = overrides;
  const fs::path out = args.options.count("--out") ? args.options.at("--out") : "out";
  fs::create_directories(out);
  reports::write_reports(results, out, formats);
  std::cout << reports::summary_table(results);
  std::cout << "results: " << (out / "results.json").string() << "\n";
  return static_cast<int>(results.exit_code);
}

int command_validate(int argc, char** argv) {
  const Arguments args = parse_arguments(argc, argv, 2, {}, {});
  if (args.positional.empty()) throw input_error("validate needs a scenario file or directory");
  const std::vector<Scenario> scenarios = load_scenarios(args.positional);
  std::size_t cases = 0;
  for (const Scenario& s : scenarios) cases += s.cases.size();
  std::cout << "ok: " << scenarios.size() << " scenario(s), " << cases << " case(s), "
            << plan_runs(scenarios, std::nullopt, std::nullopt).size() << " case run(s)\n";
  return 0;
}

int command_list(int argc, char** argv) {
  const Arguments args = parse_arguments(argc, argv, 2, {"--filter", "--target"}, {});
  if (args.positional.empty()) throw input_error("list needs a scenario file or directory");
  const std::vector<Scenario> scenarios = load_scenarios(args.positional);
  std::optional<std::string> filter, target;
  if (args.options.count("--filter")) filter = args.options.at("--filter");
  if (args.options.count("--target")) target = args.options.at("--target");
  for (const PlannedRun& run : plan_runs(scenarios, filter, target))
    std::cout << run_label(run)
              << (run.target->reference_only ? "  (reference control)"
                  : run.implicit_control     ? "  (positive control)"
                                             : "")
              << "  expect "
              << to_string(expected_verdict(*run.case_spec, run.mode, run.target->name)) << "\n";
  return 0;
}

int command_doctor(int argc, char** argv) {
  const Arguments args = parse_arguments(argc, argv, 2, {}, {"--json"});
  const HostFacts facts = probe_host(HostProbeOptions{});
  if (args.flags.count("--json"))
    std::cout << facts.to_json().dump(2) << "\n";
  else
    std::cout << facts.table();
  return 0;
}

int command_clean(int argc, char** argv) {
  const Arguments args = parse_arguments(argc, argv, 2, {}, {"--dry-run"});
  if (!args.positional.empty()) throw input_error("clean takes no arguments");
  if (::geteuid() != 0)
    throw environment_error(
        "clean needs root: the containers, mounts and cgroups of a run are "
        "root's");
  ReapOptions options;
  options.dry_run = args.flags.count("--dry-run") > 0;
  const auto found = reap_stale_runs(options);
  std::cout << describe(found, options.dry_run);
  if (found.empty()) std::cout << "nothing to clean\n";
  const bool failed = std::any_of(found.begin(), found.end(),
                                  [](const StaleResource& r) { return !r.error.empty(); });
  return failed ? static_cast<int>(ExitCode::kHarnessError) : 0;
}

int dispatch(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return static_cast<int>(ExitCode::kInvalidInput);
  }
  const std::string command = argv[1];
  if (command == "run") return command_run(argc, argv);
  if (command == "compare") return command_compare(argc, argv);
  if (command == "merge") return command_merge(argc, argv);
  if (command == "report") return command_report(argc, argv);
  if (command == "verify") return command_verify(argc, argv);
  if (command == "bench") return command_bench(argc, argv);
  if (command == "validate") return command_validate(argc, argv);
  if (command == "list") return command_list(argc, argv);
  if (command == "doctor") return command_doctor(argc, argv);
  if (command == "clean") return command_clean(argc, argv);
  if (command == "version" || command == "--version") {
    std::cout << "armorbench " << ARMORBENCH_VERSION << "\n";
    return 0;
  }
  if (command == "help" || command == "--help" || command == "-h") {
    std::cout << kUsage;
    return 0;
  }
  throw input_error("unknown command '" + command + "' (see armorbench help)");
}

}  // namespace
}  // namespace armorbench

int main(int argc, char** argv) {
  using namespace armorbench;
  install_interrupt_handlers();
  try {
    return dispatch(argc, argv);
  } catch (const Interrupted&) {
    std::cerr << "armorbench: interrupted; every container, VM, BPF link and mount of this run "
                 "was removed; finished cases are in results.jsonl\n";
    return kInterruptedExit;
  } catch (const Error& e) {
    std::cerr << "armorbench: " << (e.kind() == ErrorKind::kInput ? "error: " : "") << e.describe()
              << "\n";
    return static_cast<int>(exit_code_for(e.kind()));
  } catch (const std::exception& e) {
    std::cerr << "armorbench: internal error: " << e.what() << "\n";
    return static_cast<int>(ExitCode::kHarnessError);
  }
}
