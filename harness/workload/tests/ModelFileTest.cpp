// Model file checks on real files (tests/model-files/, written by torch, pickle and a safetensors
// writer): every whole file passes, and every truncation of it is refused with a reason.
#include "armorbench/workload/ModelFile.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace armorbench {
namespace {
namespace fs = std::filesystem;

const fs::path kFiles(ARMORBENCH_MODEL_FILES);

std::string bytes_of(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class ModelFileCheck : public ::testing::Test {
 protected:
  void SetUp() override {
    // Per process: ctest -j runs this fixture's tests side by side, and one's SetUp must not
    // remove another's file.
    dir_ = fs::path(::testing::TempDir()) / ("model-file-check-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string problem_of(std::string_view bytes, ModelContainer container) {
    return model_bytes_problem(bytes, container);
  }

  fs::path dir_;
};

struct Whole {
  const char* file;
  ModelContainer container;
};

const Whole kWholeFiles[] = {
    {"checkpoint.pt", ModelContainer::kTorch},
    {"legacy.pt", ModelContainer::kTorch},
    {"linear.ts", ModelContainer::kTorchScript},
    {"linear.ts", ModelContainer::kTorch},  // torch.load reads TorchScript's zip too
    {"state.pkl", ModelContainer::kPickle},
    {"state.pkl", ModelContainer::kTorch},  // a plain pickle: torch.load runs it, then refuses
    {"state-protocol0.pkl", ModelContainer::kPickle},
    {"state.safetensors", ModelContainer::kSafetensors},
};

TEST_F(ModelFileCheck, WholeFilesPass) {
  for (const Whole& whole : kWholeFiles)
    EXPECT_EQ(model_file_problem(kFiles / whole.file, whole.container), "")
        << whole.file << " as " << to_string(whole.container);
}

// A zip, a pickle stream and a safetensors file each end in what holds them together (the end of
// the zip directory, STOP, the last tensor's bytes): no proper prefix is whole.
TEST_F(ModelFileCheck, EveryTruncationIsRefused) {
  for (const Whole& whole : kWholeFiles) {
    if (std::string(whole.file) == "legacy.pt") continue;  // its storages' bytes are not walked
    const std::string bytes = bytes_of(kFiles / whole.file);
    ASSERT_GT(bytes.size(), 100u) << whole.file;
    for (std::size_t length = 0; length < bytes.size(); ++length)
      ASSERT_NE(problem_of(std::string_view(bytes).substr(0, length), whole.container), "")
          << whole.file << " cut to " << length << " bytes passed";
  }
}

TEST_F(ModelFileCheck, FilesAreMappedNotCopied) {
  const fs::path file = dir_ / "checkpoint.pt";
  fs::copy_file(kFiles / "checkpoint.pt", file);
  EXPECT_EQ(model_file_problem(file, ModelContainer::kTorch), "");
  fs::resize_file(file, 500);
  EXPECT_NE(model_file_problem(file, ModelContainer::kTorch).find("truncated zip archive"),
            std::string::npos);
}

TEST_F(ModelFileCheck, LegacyCheckpointIsWalkedThroughItsFivePickles) {
  const std::string legacy = bytes_of(kFiles / "legacy.pt");
  // The fourth pickle (the state dict's) starts after the magic number, protocol and system info.
  for (std::size_t length : {10, 18, 100, 250, 380})
    EXPECT_NE(problem_of(legacy.substr(0, length), ModelContainer::kTorch).find("truncated pickle"),
              std::string::npos)
        << length;
}

TEST_F(ModelFileCheck, NamesWhatIsWrong) {
  const std::string checkpoint = bytes_of(kFiles / "checkpoint.pt");
  EXPECT_EQ(problem_of("", ModelContainer::kTorch), "the file is empty");
  EXPECT_NE(problem_of(checkpoint.substr(0, 500), ModelContainer::kTorch)
                .find("truncated zip archive: no end-of-central-directory record"),
            std::string::npos);
  EXPECT_NE(problem_of("plain text\n", ModelContainer::kTorchScript).find("not a zip archive"),
            std::string::npos);
  EXPECT_NE(problem_of(checkpoint, ModelContainer::kPickle).find("not a pickle"),
            std::string::npos);
  EXPECT_NE(problem_of("\xff\xfe", ModelContainer::kTorch)
                .find("neither a zip archive nor a pickle (its first byte is 0xff)"),
            std::string::npos);
  EXPECT_NE(
      problem_of(bytes_of(kFiles / "state.pkl"), ModelContainer::kSafetensors).find("safetensors"),
      std::string::npos);
  EXPECT_EQ(model_file_problem(dir_ / "absent", ModelContainer::kTorch),
            "the file cannot be read: No such file or directory");
  EXPECT_EQ(model_file_problem(dir_, ModelContainer::kTorch), "not a regular file");
}

TEST_F(ModelFileCheck, CorruptZipDirectoryIsNamed) {
  const std::string checkpoint = bytes_of(kFiles / "checkpoint.pt");
  const std::size_t end = checkpoint.rfind(std::string("PK\x05\x06", 4));
  ASSERT_NE(end, std::string::npos);
  const auto directory =
      static_cast<std::size_t>(static_cast<unsigned char>(checkpoint[end + 16]) |
                               static_cast<unsigned char>(checkpoint[end + 17]) << 8);

  std::string header = checkpoint;  // members: data.pkl, data/0, data/1, version
  header[directory] = 'X';
  EXPECT_NE(problem_of(header, ModelContainer::kTorch)
                .find("central directory entry 1 of 4 at byte " + std::to_string(directory)),
            std::string::npos);

  std::string outside = checkpoint;
  outside[end + 19] = '\x7f';  // the directory's offset far past the end
  EXPECT_NE(problem_of(outside, ModelContainer::kTorch).find("lies outside the file"),
            std::string::npos);

  std::string local = checkpoint;
  const std::size_t second = local.find(std::string("PK\x03\x04", 4), 1);
  ASSERT_NE(second, std::string::npos);
  local[second] = 'X';  // the second member's local header
  EXPECT_NE(problem_of(local, ModelContainer::kTorchScript)
                .find("has no local header at byte " + std::to_string(second)),
            std::string::npos);
}

// torch's writer adds zip64 end records; a reader must follow them when the classic record says
// its fields overflowed.
TEST_F(ModelFileCheck, Zip64EndRecordIsFollowed) {
  std::string checkpoint = bytes_of(kFiles / "checkpoint.pt");
  ASSERT_NE(checkpoint.find(std::string("PK\x06\x06", 4)), std::string::npos);
  const std::size_t end = checkpoint.rfind(std::string("PK\x05\x06", 4));
  checkpoint.replace(end + 8, 12, std::string(12, '\xff'));  // entries, size, offset: see zip64
  EXPECT_EQ(problem_of(checkpoint, ModelContainer::kTorch), "");
  const std::size_t locator = checkpoint.find(std::string("PK\x06\x07", 4));
  checkpoint[locator + 8] ^= 0x10;  // the zip64 record's offset, wrong
  EXPECT_NE(problem_of(checkpoint, ModelContainer::kTorch).find("zip64"), std::string::npos);
}

TEST_F(ModelFileCheck, EachFormatAndLoaderReadsItsContainer) {
  EXPECT_EQ(model_container("torchscript", Loader::kPickle), ModelContainer::kTorchScript);
  EXPECT_EQ(model_container("safetensors", Loader::kTorch), ModelContainer::kSafetensors);
  EXPECT_EQ(model_container("state_dict", Loader::kSafetensors), ModelContainer::kSafetensors);
  EXPECT_EQ(model_container("module", Loader::kPickle), ModelContainer::kPickle);
  EXPECT_EQ(model_container("module", Loader::kTorchWeightsOnly), ModelContainer::kTorch);
  EXPECT_EQ(model_container("", Loader::kTorch), ModelContainer::kTorch);
  EXPECT_EQ(model_container("sklearn", Loader::kJoblib), ModelContainer::kJoblib);
  EXPECT_EQ(model_container("xgboost", Loader::kXgboost), ModelContainer::kXgboost);
  EXPECT_EQ(model_container("xgboost", Loader::kPickle), ModelContainer::kPickle);
  EXPECT_EQ(model_container("onnx", Loader::kOnnx), ModelContainer::kOnnx);
}

// The other formats' readers parse what no structural check here can (joblib's inline arrays,
// UBJSON, protobuf): only what cannot be the format at all is refused before a run.
TEST_F(ModelFileCheck, OtherFormatsAreCheckedByTheirFirstBytes) {
  EXPECT_EQ(model_bytes_problem(std::string("\x80\x04\x95", 3), ModelContainer::kJoblib), "");
  EXPECT_EQ(model_bytes_problem(std::string("\x1f\x8b\x08", 3), ModelContainer::kJoblib), "")
      << "a gzip-compressed joblib file";
  EXPECT_NE(model_bytes_problem("{\"learner\": {}}", ModelContainer::kJoblib), "");
  EXPECT_NE(model_bytes_problem(std::string("\x80\x09", 2), ModelContainer::kJoblib), "")
      << "no pickle protocol 9";
  EXPECT_EQ(model_bytes_problem("  {\"learner\": {}}", ModelContainer::kXgboost), "");
  EXPECT_EQ(model_bytes_problem("{L\x00", ModelContainer::kXgboost), "") << "UBJSON";
  EXPECT_NE(model_bytes_problem(std::string("\x80\x04", 2), ModelContainer::kXgboost), "")
      << "a pickle is not a booster";
  EXPECT_EQ(model_bytes_problem(std::string("\x08\x08\x12", 3), ModelContainer::kOnnx), "");
  EXPECT_NE(model_bytes_problem(std::string("\x07\x00", 2), ModelContainer::kOnnx), "")
      << "wire type 7 does not exist";
  EXPECT_NE(model_bytes_problem("", ModelContainer::kOnnx), "");
}

}  // namespace
}  // namespace armorbench
