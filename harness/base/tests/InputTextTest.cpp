// Input text files: the UTF-8 rule (RFC 3629), byte offsets as line:column, and what
// read_input_text refuses before a parser sees it.
#include "armorbench/base/InputText.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace armorbench {
namespace {
namespace fs = std::filesystem;

TEST(InputText, WellFormedUtf8Passes) {
  EXPECT_EQ(invalid_utf8_offset(""), std::nullopt);
  EXPECT_EQ(invalid_utf8_offset("name = \"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"\n"),
            std::nullopt);
  EXPECT_EQ(invalid_utf8_offset("\xf4\x8f\xbf\xbf"), std::nullopt);  // U+10FFFF, the last
}

TEST(InputText, NamesTheFirstByteThatIsNotUtf8) {
  EXPECT_EQ(invalid_utf8_offset("ab\xff"), 2u);
  EXPECT_EQ(invalid_utf8_offset("a\x80"), 1u);             // a continuation byte alone
  EXPECT_EQ(invalid_utf8_offset("a\xc3"), 1u);             // cut short
  EXPECT_EQ(invalid_utf8_offset("\xc0\xaf"), 0u);          // overlong '/'
  EXPECT_EQ(invalid_utf8_offset("\xe0\x80\xaf"), 0u);      // overlong '/'
  EXPECT_EQ(invalid_utf8_offset("x\xed\xa0\x80"), 1u);     // a surrogate
  EXPECT_EQ(invalid_utf8_offset("\xf4\x90\x80\x80"), 0u);  // above U+10FFFF
  EXPECT_EQ(invalid_utf8_offset("\xe2\x82\x41"), 0u);      // a bad third byte
  EXPECT_EQ(invalid_utf8_offset("latin-1: caf\xe9\n"), 12u);
}

TEST(InputText, OffsetsAreLinesAndCharacterColumns) {
  const std::string text = "one\ntw\xc3\xa9\xff\n";
  const SourceLocation where = location_of_offset("f", text, 8);
  EXPECT_EQ(where.str(), "f:2:4");  // 't', 'w', 'é' before it
  EXPECT_EQ(location_of_offset("f", text, 0).str(), "f:1:1");
}

class ReadInputText : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / "input-text";
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The message of the input error read_input_text throws, "" when it throws none.
  std::string refusal(const fs::path& file, std::uintmax_t max_bytes = 1024) const {
    try {
      read_input_text(file, max_bytes, "scenario file");
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInput);
      return e.describe();
    }
    return "";
  }

  fs::path dir_;
};

TEST_F(ReadInputText, ReadsARegularUtf8File) {
  std::ofstream(dir_ / "ok.toml") << "a = \"\xc3\xa9\"\n";
  EXPECT_EQ(read_input_text(dir_ / "ok.toml", 1024, "scenario file"), "a = \"\xc3\xa9\"\n");
}

TEST_F(ReadInputText, RefusesWhatIsNoTextFile) {
  const std::string d = dir_.string();
  EXPECT_EQ(refusal(dir_ / "absent"),
            d + "/absent: scenario file cannot be opened: No such file or directory");
  fs::create_symlink("loop", dir_ / "loop");
  EXPECT_EQ(refusal(dir_ / "loop"), d + "/loop: scenario file is a symbolic link loop");
  EXPECT_EQ(refusal(dir_), d + ": scenario file is a directory");
  ASSERT_EQ(::mkfifo((dir_ / "fifo").c_str(), 0600), 0);
  EXPECT_EQ(refusal(dir_ / "fifo"), d + "/fifo: scenario file is not a regular file");
  std::ofstream(dir_ / "big") << std::string(2048, 'a');
  EXPECT_EQ(refusal(dir_ / "big"),
            d + "/big: scenario file is 2 KiB; ArmorBench reads at most 1 KiB");
  std::ofstream(dir_ / "latin1") << "[scenario]\nname = \"caf\xe9\"\n";
  EXPECT_EQ(refusal(dir_ / "latin1"),
            d + "/latin1:2:12: scenario file is not UTF-8: byte 0xe9 (offset 22) does not belong "
                "to a UTF-8 character");
}

TEST(InputText, SizesReadAsPeopleWriteThem) {
  EXPECT_EQ(describe_size(200), "200 bytes");
  EXPECT_EQ(describe_size(2048), "2 KiB");
  EXPECT_EQ(describe_size(1536), "1536 bytes");
  EXPECT_EQ(describe_size(16u << 20), "16 MiB");
  EXPECT_EQ(describe_size(10'000'000), "9.5 MiB");
  EXPECT_EQ(describe_size(std::uintmax_t{1} << 50), "1 PiB");
}

}  // namespace
}  // namespace armorbench
