// Model generation through the Python generator and loading of its expected.json.
#include "armorbench/workload/ModelArtifacts.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "armorbench/base/Error.h"
#include "armorbench/base/Subprocess.h"

namespace armorbench {
namespace fs = std::filesystem;

std::string to_string(Loader loader) {
  switch (loader) {
    case Loader::kTorch:
      return "torch";
    case Loader::kTorchWeightsOnly:
      return "torch-weights-only";
    case Loader::kSafetensors:
      return "safetensors";
    case Loader::kPickle:
      return "pickle";
    case Loader::kJoblib:
      return "joblib";
    case Loader::kXgboost:
      return "xgboost";
    case Loader::kOnnx:
      return "onnx";
  }
  return "torch";
}

std::optional<Loader> loader_from_string(const std::string& name) {
  for (Loader loader : {Loader::kTorch, Loader::kTorchWeightsOnly, Loader::kSafetensors,
                        Loader::kPickle, Loader::kJoblib, Loader::kXgboost, Loader::kOnnx})
    if (to_string(loader) == name) return loader;
  return std::nullopt;
}

const std::map<std::string, std::vector<Loader>>& generated_formats() {
  static const std::map<std::string, std::vector<Loader>> formats{
      {"sklearn", {Loader::kJoblib, Loader::kPickle}},
      {"xgboost", {Loader::kXgboost, Loader::kPickle}},
      {"onnx", {Loader::kOnnx}}};
  return formats;
}

std::string ModelArtifacts::file_for(Loader loader) {
  switch (loader) {
    case Loader::kSafetensors:
      return "model.safetensors";
    case Loader::kPickle:
      return "model.pkl";
    case Loader::kJoblib:
      return "model.joblib";
    case Loader::kXgboost:
      return "model.ubj";
    case Loader::kOnnx:
      return "model.onnx";
    default:
      return "model.pt";
  }
}

std::string ModelArtifacts::file_name_for(Loader loader) const {
  const auto it = files.find(to_string(loader));
  return it != files.end() ? it->second : file_for(loader);
}

bool ModelArtifacts::matches(const std::vector<float>& actual,
                             const std::vector<float>& expected) const {
  if (actual.size() != expected.size()) return false;
  for (std::size_t i = 0; i < actual.size(); ++i)
    if (!(std::fabs(actual[i] - expected[i]) <= tolerance * (1.0 + std::fabs(expected[i]))))
      return false;
  return true;
}

namespace {

// Runs a generator script of harness/workload with `args` into `out_dir` and returns its
// expected.json, moved beside the model directory: the expectations (the canary, the answers)
// must not be visible inside the sandbox, where out_dir is mounted.
nlohmann::json run_generator(const fs::path& data_dir, const std::string& script,
                             const fs::path& out_dir, const std::vector<std::string>& args) {
  fs::create_directories(out_dir);
  std::vector<std::string> argv{"/usr/bin/python3",
                                (data_dir / "harness" / "workload" / script).string(), "--out",
                                out_dir.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  const CommandResult result = run_command(argv, std::chrono::minutes(3));
  if (result.timed_out || !result.status.exited_ok())
    throw environment_error(
        "model generation failed (" +
        (result.timed_out ? std::string("timed out") : result.status.describe()) +
        "): " + join_argv(argv) + "\n" + result.err);
  const fs::path expected_file =
      out_dir.parent_path() / (out_dir.filename().string() + ".expected.json");
  std::error_code ec;
  fs::rename(out_dir / "expected.json", expected_file, ec);
  std::ifstream in(expected_file);
  auto expected = nlohmann::json::parse(in, nullptr, false);
  if (expected.is_discarded() || !expected.is_object())
    throw harness_error(script + " wrote no expected.json");
  return expected;
}

}  // namespace

ModelArtifacts generate_model(const fs::path& data_dir, const fs::path& out_dir,
                              const std::vector<int>& layer_sizes) {
  std::string layers;
  for (int size : layer_sizes) layers += (layers.empty() ? "" : ",") + std::to_string(size);
  const auto expected = run_generator(data_dir, "make_model.py", out_dir, {"--layers", layers});
  std::ifstream config_in(out_dir / "model.json");
  const auto config = nlohmann::json::parse(config_in, nullptr, false);

  ModelArtifacts model;
  model.dir = out_dir;
  model.name = config.is_discarded() ? "mlp-classifier" : config.value("name", "mlp-classifier");
  model.canary_hex = expected.at("canary_hex").get<std::string>();
  model.inputs = expected.at("inputs").get<std::vector<std::vector<float>>>();
  model.outputs = expected.at("outputs").get<std::vector<std::vector<float>>>();
  model.tolerance = expected.value("tolerance", 1e-4);
  model.sha256 = expected.value("sha256", std::map<std::string, std::string>{});
  if (model.inputs.empty() || model.inputs.size() != model.outputs.size())
    throw harness_error("expected.json has no usable input/output pairs");
  return model;
}

ModelArtifacts generate_format_model(const fs::path& data_dir, const fs::path& out_dir,
                                     const std::string& format) {
  const auto expected = run_generator(data_dir, "make_formats.py", out_dir, {"--format", format});
  if (!expected.contains("requests") || !expected.contains("outputs"))
    throw harness_error("the " + format + " generator's expected.json has no requests");

  ModelArtifacts model;
  model.dir = out_dir;
  model.format = format;
  model.name = expected.value("model_name", format + "-model");
  model.requests = expected.at("requests").get<std::vector<nlohmann::json>>();
  model.expected_answers = expected.at("outputs").get<std::vector<nlohmann::json>>();
  model.files = expected.value("files", std::map<std::string, std::string>{});
  model.tolerance = expected.value("tolerance", 1e-5);
  model.sha256 = expected.value("sha256", std::map<std::string, std::string>{});
  if (model.requests.empty() || model.requests.size() != model.expected_answers.size())
    throw harness_error("the " + format + " generator's expected.json has no usable requests");
  return model;
}

}  // namespace armorbench

namespace armorbench {
namespace {

using nlohmann::json;

bool is_float_type(const std::string& datatype) {
  return datatype == "FP32" || datatype == "FP64" || datatype == "FP16";
}

json draw_tensor(const TensorSpec& spec, std::mt19937_64& rng) {
  std::vector<std::int64_t> shape;
  std::size_t count = 1;
  for (std::int64_t size : spec.shape) {
    shape.push_back(size < 0 ? 1 : size);
    count *= static_cast<std::size_t>(shape.back());
  }
  json data = json::array();
  if (spec.datatype == "BOOL") {
    std::bernoulli_distribution coin(0.5);
    for (std::size_t i = 0; i < count; ++i) data.push_back(coin(rng));
  } else if (is_float_type(spec.datatype)) {
    std::normal_distribution<double> normal(0.0, 1.0);
    std::uniform_real_distribution<double> uniform(spec.range ? spec.range->first : 0,
                                                   spec.range ? spec.range->second : 1);
    for (std::size_t i = 0; i < count; ++i) {
      // Rounded to float32 so every datatype the server converts to sees the same value.
      const double value = spec.range ? uniform(rng) : normal(rng);
      data.push_back(static_cast<double>(static_cast<float>(value)));
    }
  } else {
    std::uniform_int_distribution<std::int64_t> uniform(
        spec.range ? static_cast<std::int64_t>(spec.range->first) : 0,
        spec.range ? static_cast<std::int64_t>(spec.range->second) : 9);
    for (std::size_t i = 0; i < count; ++i) data.push_back(uniform(rng));
  }
  return {{"name", spec.name}, {"datatype", spec.datatype}, {"shape", shape}, {"data", data}};
}

}  // namespace

ModelArtifacts stage_declared_model(const DeclaredModel& model, const fs::path& out_dir) {
  fs::create_directories(out_dir);
  const std::string file_name = model.file.filename().string();
  fs::copy_file(model.file, out_dir / file_name, fs::copy_options::overwrite_existing);
  for (const fs::path& source : model.sources)
    fs::copy_file(source, out_dir / source.filename(), fs::copy_options::overwrite_existing);
  // External data as the model ships it: directories whole, symbolic links as links.
  for (const fs::path& data : model.data_files) {
    fs::remove_all(out_dir / data.filename());
    fs::copy(data, out_dir / data.filename(),
             fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  }
  json config = {{"name", model.name}, {"format", model.format}};
  json inputs = json::array();
  for (const TensorSpec& t : model.inputs)
    inputs.push_back({{"name", t.name}, {"datatype", t.datatype}, {"shape", t.shape}});
  config["inputs"] = inputs;
  if (!model.outputs.empty()) {
    json outputs = json::array();
    for (const std::string& name : model.outputs) outputs.push_back({{"name", name}});
    config["outputs"] = outputs;
  }
  if (model.architecture_file) {
    const std::string source = model.architecture_file->filename().string();
    fs::copy_file(*model.architecture_file, out_dir / source, fs::copy_options::overwrite_existing);
    config["architecture"] = {{"file", source},
                              {"class", model.architecture_class},
                              {"kwargs", model.architecture_kwargs}};
  }
  std::ofstream(out_dir / "model.json") << config.dump(2) << "\n";

  ModelArtifacts artifacts;
  artifacts.dir = out_dir;
  artifacts.name = model.name;
  artifacts.declared = true;
  artifacts.file_name = file_name;
  artifacts.tolerance = model.tolerance;
  std::mt19937_64 rng(20240601);  // fixed: every run of the case sends the same requests
  for (int i = 0; i < model.samples; ++i) {
    json request = json::array();
    for (const TensorSpec& t : model.inputs) request.push_back(draw_tensor(t, rng));
    artifacts.requests.push_back(std::move(request));
  }
  return artifacts;
}

bool outputs_match(const json& got, const json& reference, double tolerance, std::string* why) {
  const auto fail = [&](std::string text) {
    if (why) *why = std::move(text);
    return false;
  };
  if (!got.is_array() || !reference.is_array()) return fail("no outputs array");
  for (std::size_t i = 0; i < reference.size(); ++i) {
    const json& b = reference[i];
    const std::string name = b.value("name", "output " + std::to_string(i));
    const auto found = std::find_if(got.begin(), got.end(), [&](const json& output) {
      return output.is_object() && output.value("name", "") == b.value("name", "");
    });
    if (found == got.end()) return fail(name + ": not answered");
    const json& a = *found;
    if (a.value("datatype", "") != b.value("datatype", ""))
      return fail(name + ": a different datatype");
    if (a.value("shape", json()) != b.value("shape", json())) return fail(name + ": another shape");
    if (!a.contains("data") || !b.contains("data")) return fail(name + ": no data");
    const json& x = a.at("data");
    const json& y = b.at("data");
    if (x.size() != y.size()) return fail(name + ": a different number of values");
    for (std::size_t k = 0; k < x.size(); ++k) {
      if (x[k].is_number() && y[k].is_number() && is_float_type(b.value("datatype", ""))) {
        const double p = x[k].get<double>(), q = y[k].get<double>();
        if (!(std::fabs(p - q) <= tolerance * (1.0 + std::fabs(q))))
          return fail(name + "[" + std::to_string(k) + "] is " + std::to_string(p) +
                      ", the reference " + std::to_string(q));
      } else if (x[k] != y[k]) {
        return fail(name + "[" + std::to_string(k) + "] differs from the reference");
      }
    }
  }
  return true;
}

}  // namespace armorbench
