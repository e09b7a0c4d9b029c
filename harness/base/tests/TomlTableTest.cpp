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
  const Error e = catch_error([&] { parse_toml_file(path, 1 << 20, "scenario file"); });
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

// Huge, infinite and NaN values are refused where they are written, not turned into a negative
// timeout or a wrapped size by a conversion that overflows.
TEST(TomlTable, DurationsAndSizesAreBounded) {
  EXPECT_EQ(parse_duration("24h"), std::chrono::hours(24));
  EXPECT_FALSE(parse_duration("25h").has_value());
  EXPECT_FALSE(parse_duration("1e308s").has_value());
  EXPECT_EQ(parse_size("1048576GiB"), kMaxSize);
  EXPECT_FALSE(parse_size("1e30GiB").has_value());

  Parsed p(
      "a = 1e308\nb = nan\nc = \"1e308s\"\nd = inf\ne = -inf\nf = 86400\n"
      "m = \"1e30GiB\"\nn = 9223372036854775807\n");
  const auto message = [&](auto&& read) { return catch_error(read).describe(); };
  EXPECT_EQ(message([&] { p.table.duration("a"); }),
            "scenario.toml:1:5: [test]: 'a' = 1e+308 is longer than 24h, the longest wait a "
            "scenario may set");
  EXPECT_EQ(message([&] { p.table.duration("b"); }),
            "scenario.toml:2:5: [test]: 'b' = nan is not a number of seconds");
  EXPECT_EQ(message([&] { p.table.duration("c"); }),
            "scenario.toml:3:5: [test]: 'c' = \"1e308s\" is longer than 24h, the longest wait a "
            "scenario may set");
  EXPECT_NE(message([&] { p.table.duration("d"); }).find("'d' = inf is longer than 24h"),
            std::string::npos);
  EXPECT_NE(message([&] { p.table.duration("e"); }).find("'e' must not be negative"),
            std::string::npos);
  EXPECT_EQ(p.table.duration("f"), std::chrono::hours(24));
  EXPECT_EQ(message([&] { p.table.size("m"); }),
            "scenario.toml:7:5: [test]: 'm' = \"1e30GiB\" is larger than 1 PiB, the largest size "
            "a scenario may set");
  EXPECT_NE(message([&] { p.table.size("n"); }).find("'n' = 9223372036854775807 is larger"),
            std::string::npos);
}

TEST(TomlTable, LongStringsAreRefusedWithoutBeingEchoed) {
  const std::string long_value(kMaxStringBytes + 1, 'a');
  Parsed p("s = \"" + long_value + "\"\nl = [\"" + long_value + "\"]\nok = \"" +
           std::string(kMaxStringBytes, 'b') + "\"\n" + long_value + " = 1\n");
  const Error scalar = catch_error([&] { p.table.string("s"); });
  EXPECT_EQ(scalar.describe(),
            "scenario.toml:1:5: [test]: 's' is a string of 65537 bytes, longer than the 64 KiB a "
            "string may hold");
  const Error element = catch_error([&] { p.table.strings("l"); });
  EXPECT_EQ(element.describe().rfind("scenario.toml:2:6: [test]: an element of 'l'", 0), 0u)
      << element.describe();
  EXPECT_EQ(p.table.string("ok")->size(), kMaxStringBytes);
  const Error key = catch_error([&] { p.table.finish(); });
  EXPECT_LT(key.describe().size(), 200u) << "the key is cut in the message";
  EXPECT_NE(key.describe().find("unknown key 'aaa"), std::string::npos);
}

TEST(TomlTable, ClosestMatchRejectsUnrelatedWords) {
  EXPECT_EQ(closest_match("loadr", {"loader", "model"}), "loader");
  EXPECT_EQ(closest_match("zzzzzzzz", {"loader", "model"}), "");
}

}  // namespace
}  // namespace armorbench
