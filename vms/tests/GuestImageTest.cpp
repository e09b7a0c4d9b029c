// ensure_guest_image(): builds with vms/guest/build-guest.sh (root: the initramfs has device
// nodes), then serves the cache while the inputs' content hash is unchanged.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "TempDir.h"
#include "armorbench/vms/GuestImage.h"

namespace armorbench::vms {
namespace {

TEST(GuestImage, BuildsOnceThenServesFromTheCache) {
  testing::TempDir cache;
  const GuestImage first = ensure_guest_image(cache.path(), ARMORBENCH_DATA_DIR);
  EXPECT_TRUE(first.rebuilt);
  EXPECT_TRUE(std::filesystem::exists(first.kernel));
  EXPECT_TRUE(std::filesystem::exists(first.initrd));
  EXPECT_EQ(first.hash.size(), 64u);
  EXPECT_EQ(first.input_hash.size(), 64u);
  EXPECT_TRUE(first.kernel_version.starts_with("6.1.")) << first.kernel_version;
  // The kernel is the ELF (PVH entry), not the bzImage.
  std::ifstream kernel(first.kernel, std::ios::binary);
  char magic[4] = {};
  kernel.read(magic, 4);
  EXPECT_EQ(std::string(magic, 4),
            "\x7f"
            "ELF");
  std::cout << "guest image built in " << first.build_time.count() << " ms, guest-sha256 "
            << first.hash << "\n";

  const GuestImage second = ensure_guest_image(cache.path(), ARMORBENCH_DATA_DIR);
  EXPECT_FALSE(second.rebuilt);
  EXPECT_EQ(second.hash, first.hash);
  EXPECT_EQ(second.input_hash, first.input_hash);

  // A different recorded key (as after a kernel or script update) rebuilds; the build is
  // reproducible, so the image hash stays the same.
  std::ofstream(cache.path() / "input.sha256") << "stale\n";
  const GuestImage third = ensure_guest_image(cache.path(), ARMORBENCH_DATA_DIR);
  EXPECT_TRUE(third.rebuilt);
  EXPECT_EQ(third.hash, first.hash);
}

}  // namespace
}  // namespace armorbench::vms
