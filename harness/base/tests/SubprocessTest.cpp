// Subprocess helpers that need no child: the output tail kept for messages and evidence.
#include "armorbench/base/Subprocess.h"

#include <gtest/gtest.h>
#include <stdlib.h>

namespace armorbench {
namespace {

TEST(OutputTail, KeepsShortOutputAndMarksACut) {
  EXPECT_EQ(output_tail("short", 10), "short");
  EXPECT_EQ(output_tail("0123456789", 10), "0123456789");
  EXPECT_EQ(output_tail("0123456789abc", 4), "...9abc");
  EXPECT_EQ(output_tail("", 4), "");
}

// The child gets our environment with extra_env set over it: added, replaced (once), the rest
// kept. (Built by hand: Boost's environment lookup reads past short entries under ASan.)
TEST(Subprocess, ExtraEnvironmentIsSetOverOurs) {
  ::setenv("AB_SUBPROCESS_KEPT", "kept", 1);
  ::setenv("AB_SUBPROCESS_REPLACED", "old", 1);
  const CommandResult r = run_command(
      {"/usr/bin/env"}, std::chrono::seconds(10),
      {{"AB_SUBPROCESS_REPLACED", "new"}, {"AB_SUBPROCESS_ADDED_WITH_A_LONG_NAME", "1"}});
  EXPECT_TRUE(r.status.exited_ok()) << r.err;
  const auto count = [&](const std::string& line) {
    std::size_t n = 0;
    for (std::size_t at = r.out.find(line); at != std::string::npos; at = r.out.find(line, at + 1))
      if (at == 0 || r.out[at - 1] == '\n') ++n;
    return n;
  };
  EXPECT_EQ(count("AB_SUBPROCESS_KEPT=kept\n"), 1u) << r.out;
  EXPECT_EQ(count("AB_SUBPROCESS_REPLACED=new\n"), 1u) << r.out;
  EXPECT_EQ(count("AB_SUBPROCESS_REPLACED="), 1u) << r.out;
  EXPECT_EQ(count("AB_SUBPROCESS_ADDED_WITH_A_LONG_NAME=1\n"), 1u) << r.out;
  ::unsetenv("AB_SUBPROCESS_KEPT");
  ::unsetenv("AB_SUBPROCESS_REPLACED");
}

}  // namespace
}  // namespace armorbench
