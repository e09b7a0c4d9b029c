// The bad-input corpus (harness/tests/bad-input/manifest.toml) through the real CLI: every broken
// scenario, policy and model file, given to `armorbench validate` and `armorbench run --out`,
// ends in exit 4 within its time bound, with the error located where the manifest says, and
// leaves nothing behind. One test per entry, named after it.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "armorbench/base/Subprocess.h"
#include "armorbench/base/TomlTable.h"

namespace armorbench {
namespace {
namespace fs = std::filesystem;

const fs::path kCorpus = fs::path(ARMORBENCH_TEST_DATA) / "bad-input";

struct Link {
  std::string path, target;
};

struct Generated {
  std::string path, head, fill, tail;
  std::int64_t repeat = 0;
};

struct Entry {
  std::string name;
  std::string input;
  std::string location;
  std::string message;
  int seconds = 10;
  std::vector<Link> links;
  std::vector<std::string> fifos;
  std::optional<Generated> generate;
  std::string manifest_error;  // the manifest could not be read: the one entry says why
};

// Failures name the entry, not its bytes.
void PrintTo(const Entry& e, std::ostream* os) {
  *os << e.name;
}

// Read strictly: a misspelt key in the manifest fails its entry instead of checking less.
std::vector<Entry> read_manifest() {
  const fs::path file = kCorpus / "manifest.toml";
  try {
    const toml::table root = parse_toml_file(file.string(), 1 << 20, "manifest");
    TomlTable top(root, std::make_shared<const std::string>(file.string()), "");
    std::vector<Entry> entries;
    for (TomlTable& table : top.tables("entry")) {
      Entry e;
      e.name = table.required_string("name");
      e.input = table.required_string("input");
      e.location = table.required_string("location");
      e.message = table.required_string("message");
      e.seconds = static_cast<int>(table.integer("seconds", 1, 60).value_or(10));
      for (TomlTable& link : table.tables("links")) {
        e.links.push_back({link.required_string("path"), link.required_string("target")});
        link.finish();
      }
      e.fifos = table.strings("fifos").value_or(std::vector<std::string>{});
      if (auto generate = table.table("generate")) {
        e.generate =
            Generated{generate->required_string("path"), generate->required_string("head"),
                      generate->required_string("fill"), generate->string("tail").value_or(""),
                      *generate->integer("repeat", 1, 1 << 26)};
        generate->finish();
      }
      table.finish();
      entries.push_back(std::move(e));
    }
    top.finish();
    if (entries.empty()) throw input_error("no [[entry]]", SourceLocation{file.string(), 0, 0});
    return entries;
  } catch (const Error& e) {
    Entry broken;
    broken.name = "manifest";
    broken.manifest_error = e.describe();
    return {broken};
  }
}

std::string test_name(const ::testing::TestParamInfo<Entry>& info) {
  std::string name = info.param.name;
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

// Every path below `root`, links not followed (a loop stays a name).
void walk(const fs::path& root, const fs::path& dir, std::set<std::string>& paths) {
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    paths.insert(entry.path().lexically_relative(root).string());
    if (entry.symlink_status().type() == fs::file_type::directory) walk(root, entry.path(), paths);
  }
}

std::set<std::string> tree(const fs::path& root) {
  std::set<std::string> paths;
  walk(root, root, paths);
  return paths;
}

class BadInput : public ::testing::TestWithParam<Entry> {
 protected:
  void SetUp() override {
    base_ = fs::path(::testing::TempDir()) / ("bad-input-" + GetParam().name);
    fs::remove_all(base_);
    corpus_ = base_ / "corpus";
    fs::create_directories(corpus_);
    fs::copy(kCorpus, corpus_, fs::copy_options::recursive);
    for (const char* dir : {"tmp", "work"}) fs::create_directories(base_ / dir);
  }
  void TearDown() override { fs::remove_all(base_); }

  // What git cannot or should not hold: links (loops), FIFOs, megabytes of filler.
  void make_test_time_files(const Entry& e) const {
    for (const Link& link : e.links) {
      fs::create_directories((corpus_ / link.path).parent_path());
      fs::create_symlink(link.target, corpus_ / link.path);
    }
    for (const std::string& fifo : e.fifos)
      ASSERT_EQ(::mkfifo((corpus_ / fifo).c_str(), 0600), 0) << fifo;
    if (e.generate) {
      std::ofstream out(corpus_ / e.generate->path, std::ios::binary);
      out << e.generate->head;
      for (std::int64_t i = 0; i < e.generate->repeat; ++i) out << e.generate->fill;
      out << e.generate->tail;
      ASSERT_TRUE(out.good()) << e.generate->path;
    }
  }

  // One command on the entry's input, with its own temporary and work directories, checked
  // for everything the contract says.
  void expect_input_error(const Entry& e, const std::vector<std::string>& command) const {
    std::vector<std::string> argv{ARMORBENCH_BIN};
    argv.insert(argv.end(), command.begin(), command.end());
    const std::string shown = command.front();
    const CommandResult r = run_command(
        argv, std::chrono::seconds(e.seconds),
        {{"TMPDIR", (base_ / "tmp").string()}, {"ARMORBENCH_WORK_DIR", (base_ / "work").string()}});
    ASSERT_FALSE(r.timed_out) << shown << " did not finish within " << e.seconds << " s";
    EXPECT_EQ(r.status.code, 4) << shown << " exit status " << r.status.describe() << "\n" << r.err;

    // The error line: "armorbench: error: <location>: <message>", the location as the
    // user's own paths lead to it (inputs are given by absolute path).
    const std::string prefix = "armorbench: error: " + (corpus_ / e.location).string() + ": ";
    std::istringstream lines(r.err);
    std::string line, found;
    while (std::getline(lines, line))
      if (line.rfind(prefix, 0) == 0) found = line;
    ASSERT_FALSE(found.empty()) << shown << ": no error line located at " << e.location
                                << "; stderr:\n"
                                << r.err;
    EXPECT_NE(found.find(e.message, prefix.size()), std::string::npos)
        << shown << ": the message lacks \"" << e.message << "\":\n"
        << found;
    EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
    EXPECT_LT(r.elapsed, std::chrono::seconds(e.seconds));
  }

  fs::path base_, corpus_;
};

TEST_P(BadInput, ExitsFourLocatedAndWritesNothing) {
  const Entry& e = GetParam();
  ASSERT_TRUE(e.manifest_error.empty()) << e.manifest_error;
  make_test_time_files(e);
  if (HasFatalFailure()) return;
  const std::set<std::string> before = tree(corpus_);
  const std::string input = (corpus_ / e.input).string();
  const fs::path out = base_ / "out";

  expect_input_error(e, {"validate", input});
  // `run` reads the same files first; were they accepted, it would start the case as root
  // here, so it runs only on input `validate` refused.
  if (HasFailure()) return;
  expect_input_error(e, {"run", input, "--out", out.string()});

  EXPECT_FALSE(fs::exists(fs::symlink_status(out))) << "--out was written";
  EXPECT_TRUE(fs::is_empty(base_ / "work")) << "a work directory was left behind";
  EXPECT_TRUE(fs::is_empty(base_ / "tmp")) << "a temporary file was left behind";
  EXPECT_EQ(tree(corpus_), before) << "files appeared beside the input";
}

INSTANTIATE_TEST_SUITE_P(Corpus, BadInput, ::testing::ValuesIn(read_manifest()), test_name);

// A broken file kept in the corpus but named by no entry tests nothing: every scenario file
// here is an entry's input, and every entry's input is used once.
TEST(BadInputCorpus, EveryScenarioFileIsAnEntry) {
  const std::vector<Entry> entries = read_manifest();
  ASSERT_TRUE(entries.front().manifest_error.empty()) << entries.front().manifest_error;
  std::set<std::string> inputs, names;
  for (const Entry& e : entries) {
    EXPECT_TRUE(inputs.insert(e.input).second) << e.input << " is the input of two entries";
    EXPECT_TRUE(names.insert(e.name).second) << e.name << " names two entries";
  }
  for (const auto& file : fs::directory_iterator(kCorpus)) {
    if (file.path().extension() != ".toml" || file.path().filename() == "manifest.toml") continue;
    EXPECT_TRUE(inputs.count(file.path().filename().string()))
        << file.path().filename() << " is in the corpus but no entry's input";
  }
}

}  // namespace
}  // namespace armorbench
