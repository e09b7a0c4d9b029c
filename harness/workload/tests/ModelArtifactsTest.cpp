// The generated model's evidence: the tolerance rule the harness checks answers with, and the
// file each loader reads.
#include "armorbench/workload/ModelArtifacts.h"

#include <gtest/gtest.h>

#include <cmath>

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
