// The generated model's evidence: the tolerance rule the harness checks answers with, and the
// file each loader reads.
#include "armorbench/workload/ModelArtifacts.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

namespace armorbench {
namespace {

TEST(ModelArtifacts, MatchesWithinRelativeTolerance) {
  ModelArtifacts model;
  model.tolerance = 1e-4;
  EXPECT_TRUE(model.matches({1.0F, 100.0F}, {1.0F, 100.0F}));
  EXPECT_TRUE(model.matches({1.0001F}, {1.0F}));     // |d| = 1e-4 <= 1e-4 * 2
  EXPECT_TRUE(model.matches({100.009F}, {100.0F}));  // |d| ~ 9e-3 <= 1e-4 * 101
  EXPECT_FALSE(model.matches({1.001F}, {1.0F}));
  EXPECT_FALSE(model.matches({1.0F}, {1.0F, 2.0F}));  // shape differs
  EXPECT_FALSE(model.matches({std::nanf("")}, {1.0F}));
}

TEST(ModelArtifacts, EachLoaderReadsItsFile) {
  EXPECT_EQ(ModelArtifacts::file_for(Loader::kTorch), "model.pt");
  EXPECT_EQ(ModelArtifacts::file_for(Loader::kTorchWeightsOnly), "model.pt");
  EXPECT_EQ(ModelArtifacts::file_for(Loader::kSafetensors), "model.safetensors");
  EXPECT_EQ(ModelArtifacts::file_for(Loader::kPickle), "model.pkl");
  EXPECT_EQ(to_string(Loader::kTorchWeightsOnly), "torch-weights-only");
}

}  // namespace
}  // namespace armorbench

namespace armorbench {
namespace {

nlohmann::json output(const std::string& name, const std::string& datatype, nlohmann::json data) {
  return {{"name", name}, {"datatype", datatype}, {"shape", {1, data.size()}}, {"data", data}};
}

TEST(DeclaredModels, OutputsMatchWithinToleranceAndExactlyForIntegers) {
  const nlohmann::json reference = {output("y", "FP32", {1.0, -2.0}), output("k", "INT64", {3})};
  std::string why;
  EXPECT_TRUE(outputs_match(reference, reference, 1e-5, &why)) << why;
  nlohmann::json close = reference;
  close[0]["data"][0] = 1.000001;
  EXPECT_TRUE(outputs_match(close, reference, 1e-5, &why)) << why;
  nlohmann::json far = reference;
  far[0]["data"][1] = -2.1;
  EXPECT_FALSE(outputs_match(far, reference, 1e-5, &why));
  EXPECT_NE(why.find("y[1]"), std::string::npos) << why;
  nlohmann::json other_int = reference;
  other_int[1]["data"][0] = 4;
  EXPECT_FALSE(outputs_match(other_int, reference, 1.0, &why)) << "integers are exact";
  nlohmann::json renamed = reference;
  renamed[0]["name"] = "z";
  EXPECT_FALSE(outputs_match(renamed, reference, 1e-5, &why));
  EXPECT_FALSE(outputs_match(nlohmann::json::array({reference[0]}), reference, 1e-5, &why));
}

TEST(DeclaredModels, StagingWritesTheConfigAndTheSameRequestsEveryTime) {
  const auto dir = std::filesystem::temp_directory_path() / "declared-model-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "m.ts") << "stand-in";
  DeclaredModel declared;
  declared.file = dir / "m.ts";
  declared.format = "torchscript";
  declared.inputs = {{"x", "FP32", {-1, 3}, std::nullopt},
                     {"ids", "INT64", {2}, std::make_pair(5.0, 7.0)}};
  const ModelArtifacts a = stage_declared_model(declared, dir / "a");
  const ModelArtifacts b = stage_declared_model(declared, dir / "b");
  EXPECT_TRUE(a.declared);
  EXPECT_EQ(a.file_name, "m.ts");
  ASSERT_EQ(a.requests.size(), 4u);
  EXPECT_EQ(a.requests, b.requests);
  EXPECT_EQ(a.requests[0][0]["shape"], nlohmann::json::array({1, 3}));  // -1 is sent as 1
  for (const auto& id : a.requests[0][1]["data"]) {
    EXPECT_GE(id.get<int>(), 5);
    EXPECT_LE(id.get<int>(), 7);
  }
  std::ifstream config(dir / "a" / "model.json");
  const auto json = nlohmann::json::parse(config);
  EXPECT_EQ(json["format"], "torchscript");
  EXPECT_EQ(json["inputs"][1]["datatype"], "INT64");
  EXPECT_TRUE(std::filesystem::exists(dir / "a" / "m.ts"));
  std::filesystem::remove_all(dir);
}

// An ONNX model's external data is staged as the model ships it: a directory whole, a symbolic
// link as a link (where it points is the sandbox's business, as it is the deployment's).
TEST(DeclaredModels, ExternalDataIsStagedAsShippedDirectoriesAndLinksIncluded) {
  namespace fs = std::filesystem;
  const auto dir = fs::temp_directory_path() / "declared-onnx-test";
  fs::remove_all(dir);
  fs::create_directories(dir / "data" / "deeper");
  std::ofstream(dir / "m.onnx") << "graph";
  std::ofstream(dir / "data" / "deeper" / "w.bin") << "weights";
  fs::create_symlink("/run/secrets/kubernetes.io/serviceaccount/token", dir / "leak.bin");
  DeclaredModel declared;
  declared.file = dir / "m.onnx";
  declared.format = "onnx";
  declared.inputs = {{"x", "FP32", {-1, 3}, std::nullopt}};
  declared.data_files = {dir / "data", dir / "leak.bin"};
  stage_declared_model(declared, dir / "staged");
  stage_declared_model(declared, dir / "staged");  // again, over the first staging
  EXPECT_TRUE(fs::is_regular_file(dir / "staged" / "data" / "deeper" / "w.bin"));
  ASSERT_TRUE(fs::is_symlink(dir / "staged" / "leak.bin"));
  EXPECT_EQ(fs::read_symlink(dir / "staged" / "leak.bin"),
            "/run/secrets/kubernetes.io/serviceaccount/token");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace armorbench
