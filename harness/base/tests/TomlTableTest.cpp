// Unit tests of strict TOML reading: types, ranges, unknown keys with suggestions, locations.
#include "armorbench/base/TomlTable.h"

#include <gtest/gtest.h>

namespace armorbench {
namespace {

// A parsed document and a strict reader over its root; not movable, the reader points into it.
struct Parsed {
  explicit Parsed(std::string_view text)
      : root(toml::parse(text, std::string_view("scenario.toml"))),
        table(root, std::make_shared<std::string>("scenario.toml"), "[test]") {}
  Parsed(const Parsed&) = delete;
  toml::table root;
  TomlTable table;
};

Error catch_error(auto&& action) {
  try {
    action();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "expected an armorbench::Error";
  return harness_error("none");
}

TEST(TomlTable, ReadsTypedValues) {
  Parsed p("name = \"x\"\ncount = 3\nratio = 0.5\nflag = true\nlist = [\"a\", \"b\"]\n");
  EXPECT_EQ(p.table.required_string("name"), "x");
  EXPECT_EQ(p.table.integer("count", 0, 10), 3);
  EXPECT_DOUBLE_EQ(*p.table.number("ratio", 0, 1), 0.5);
  EXPECT_EQ(p.table.boolean("flag"), true);
  EXPECT_EQ(p.table.strings("list"), (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(p.table.string("absent").has_value());
  EXPECT_NO_THROW(p.table.finish());
}

TEST(TomlTable, UnknownKeyIsLocatedAndSuggestsClosest) {
  Parsed p("name = \"x\"\n\nreqests = 4\n");
  p.table.string("name");
  p.table.integer("requests", 1, 100);
  const Error e = catch_error([&] { p.table.finish(); });
  EXPECT_EQ(e.kind(), ErrorKind::kInput);
  ASSERT_TRUE(e.where().has_value());
  EXPECT_EQ(e.where()->line, 3);
  EXPECT_EQ(e.where()->column, 1);
  EXPECT_NE(std::string(e.what()).find("did you mean 'requests'"), std::string::npos) << e.what();
}

TEST(TomlTable, WrongTypeNamesExpectedAndActual) {
  Parsed p("count = \"three\"\n");
  const Error e = catch_error([&] { p.table.integer("count", 0, 10); });
  EXPECT_NE(std::string(e.what()).find("must be an integer, not a string"), std::string::npos);
  EXPECT_EQ(e.describe().rfind("scenario.toml:1:9:", 0), 0u) << e.describe();
}

TEST(TomlTable, OutOfRangeIsAnError) {
  Parsed p("count = 1000\n");
  const Error e = catch_error([&] { p.table.integer("count", 0, 10); });
  EXPECT_NE(std::string(e.what()).find("out of range"), std::string::npos);
}

TEST(TomlTable, ChoiceSuggestsClosestValidValue) {
  Parsed p("kind = \"runcc\"\n");
  const Error e = catch_error([&] { p.table.choice("kind", {"runc", "crun", "kata"}); });
  EXPECT_NE(std::string(e.what()).find("did you mean 'runc'"), std::string::npos) << e.what();
}

TEST(TomlTable, MissingRequiredKeyIsLocatedAtTable) {
  Parsed p("other = 1\n");
  const Error e = catch_error([&] { p.table.required_string("name"); });
  EXPECT_NE(std::string(e.what()).find("missing required key 'name'"), std::string::npos);
}

TEST(TomlTable, SyntaxErrorsCarryLineAndColumn) {
  const std::string path = ::testing::TempDir() + "/broken.toml";
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    std::fputs("[scenario]\nname = \"x\nother = 1\n", f);
    std::fclose(f);
  }
  const Error e = catch_error([&] { parse_toml_file(path); });
  EXPECT_EQ(e.kind(), ErrorKind::kInput);
  ASSERT_TRUE(e.where().has_value());
  EXPECT_EQ(e.where()->line, 2);
  EXPECT_GT(e.where()->column, 0);
}

TEST(TomlTable, DurationsAndSizes) {
  EXPECT_EQ(parse_duration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(parse_duration("30s"), std::chrono::milliseconds(30000));
  EXPECT_EQ(parse_duration("2m"), std::chrono::milliseconds(120000));
  EXPECT_EQ(parse_duration("1.5"), std::chrono::milliseconds(1500));
  EXPECT_FALSE(parse_duration("soon").has_value());
  EXPECT_FALSE(parse_duration("-1s").has_value());
  EXPECT_EQ(parse_size("512MiB"), 512ull << 20);
  EXPECT_EQ(parse_size("1GiB"), 1ull << 30);
  EXPECT_EQ(parse_size("100"), 100u);
  EXPECT_FALSE(parse_size("lots").has_value());
}

TEST(TomlTable, ClosestMatchRejectsUnrelatedWords) {
  EXPECT_EQ(closest_match("loadr", {"loader", "model"}), "loader");
  EXPECT_EQ(closest_match("zzzzzzzz", {"loader", "model"}), "");
}

}  // namespace
}  // namespace armorbench
