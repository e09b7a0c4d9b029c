// Which host paths a guest sees as they are, and the staging of those it does not.
#include "armorbench/vms/GuestStaging.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "armorbench/base/Error.h"

namespace armorbench::vms {
namespace {
namespace fs = std::filesystem;

TEST(GuestStaging, TheGuestHasItsOwnTmpRunAndDev) {
  for (const char* hidden : {"/tmp/checkout/build/bin/agent", "/run/armorbench/x", "/dev/null",
                             "/proc/self/exe", "/sys/kernel", "/tmp"})
    EXPECT_FALSE(guest_sees(hidden)) << hidden;
  for (const char* shared : {"/usr/bin/python3", "/var/tmp/armorbench-0badcafe/model.pt",
                             "/work/checkout/scenarios/x.toml", "/tmpfoo/file"})
    EXPECT_TRUE(guest_sees(shared)) << shared;
}

TEST(GuestStaging, CopiesKeepTheModeAndGoWithTheStaging) {
  const fs::path source =
      fs::temp_directory_path() / ("guest-staging-src-" + std::to_string(::getpid()));
  std::ofstream(source) << "#!/bin/sh\necho hi\n";
  fs::permissions(source, fs::perms::owner_all);
  const fs::path dir = fs::path("/var/tmp") / ("guest-staging-test-" + std::to_string(::getpid()));
  {
    GuestStaging staging(dir);
    const fs::path copy = staging.add(source, "policies/0/tool");
    EXPECT_EQ(copy, dir / "policies/0/tool");
    EXPECT_TRUE(guest_sees(copy));
    EXPECT_EQ(fs::status(copy).permissions() & fs::perms::owner_exec, fs::perms::owner_exec);
    EXPECT_THROW(staging.add(source.string() + ".absent", "x"), Error);
    const fs::path named = staging.add_named(source);
    EXPECT_EQ(named.filename(), source.filename()) << "messages naming the copy name the file";
    EXPECT_EQ(staging.add_named(source), named) << "one copy per source";
  }
  EXPECT_FALSE(fs::exists(dir)) << "removed with the staging";
  EXPECT_THROW(GuestStaging("/tmp/not-for-guests"), Error)
      << "a staging dir the guest cannot see is refused";
  {
    GuestStaging left(dir, GuestStaging::Cleanup::kLeave);
    left.add(source, "tool");
  }
  EXPECT_TRUE(fs::exists(dir / "tool")) << "kLeave: the owner of the parent removes it";
  fs::remove_all(dir);
  fs::remove(source);
}

}  // namespace
}  // namespace armorbench::vms
