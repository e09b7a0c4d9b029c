// /proc/PID/maps parsing and which regions a dump reads.
#include <gtest/gtest.h>

#include "armorbench/attacks/MemoryRegion.h"

namespace armorbench::attacks {
namespace {

TEST(MemoryRegionTest, ParsesFileBackedLine) {
  const auto r = MemoryRegion::parse(
      "7f3b1c000000-7f3b1c021000 r-xp 00002000 fd:01 1315 /usr/lib/x86_64-linux-gnu/libc.so.6");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->start, 0x7f3b1c000000u);
  EXPECT_EQ(r->end, 0x7f3b1c021000u);
  EXPECT_TRUE(r->readable);
  EXPECT_FALSE(r->writable);
  EXPECT_TRUE(r->executable);
  EXPECT_FALSE(r->shared);
  EXPECT_EQ(r->offset, 0x2000u);
  EXPECT_EQ(r->dev_major, 0xfdu);
  EXPECT_EQ(r->dev_minor, 1u);
  EXPECT_EQ(r->inode, 1315u);
  EXPECT_EQ(r->path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
  EXPECT_TRUE(r->is_scannable());
}

TEST(MemoryRegionTest, ParsesAnonymousAndSpecialLines) {
  const auto anon = MemoryRegion::parse("7ffd1000-7ffd3000 rw-p 00000000 00:00 0 ");
  ASSERT_TRUE(anon);
  EXPECT_EQ(anon->path, "");
  EXPECT_TRUE(anon->is_scannable());
  const auto no_trailing_space = MemoryRegion::parse("1000-2000 rw-p 00000000 00:00 0");
  ASSERT_TRUE(no_trailing_space);
  EXPECT_TRUE(no_trailing_space->is_scannable());

  const auto heap = MemoryRegion::parse("55d0a000-55d2b000 rw-p 00000000 00:00 0   [heap]");
  ASSERT_TRUE(heap);
  EXPECT_EQ(heap->path, "[heap]");
  EXPECT_TRUE(heap->is_scannable());

  const auto deleted =
      MemoryRegion::parse("7f00-8f00 rw-s 00000000 00:05 77 /memfd:weights (deleted)");
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->path, "/memfd:weights (deleted)");
  EXPECT_TRUE(deleted->shared);
  EXPECT_TRUE(deleted->is_scannable());
}

TEST(MemoryRegionTest, SkipsKernelDeviceAndUnreadable) {
  for (const char* line : {"7fff1000-7fff3000 r--p 00000000 00:00 0 [vvar]",
                           "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]",
                           "7f0000-7f1000 rw-s 00000000 00:05 12 /dev/nvidia0",
                           "7f0000-7f1000 ---p 00000000 00:00 0 "}) {
    const auto r = MemoryRegion::parse(line);
    ASSERT_TRUE(r) << line;
    EXPECT_FALSE(r->is_scannable()) << line;
  }
  const auto shm = MemoryRegion::parse("7f0000-7f1000 rw-s 00000000 00:1a 5 /dev/shm/model");
  ASSERT_TRUE(shm);
  EXPECT_TRUE(shm->is_scannable());
}

TEST(MemoryRegionTest, RejectsGarbageAndParsesAll) {
  EXPECT_FALSE(MemoryRegion::parse(""));
  EXPECT_FALSE(MemoryRegion::parse("not a maps line"));
  const auto all = MemoryRegion::parse_all(
      "1000-2000 r--p 00000000 00:00 0 \nbad\n3000-4000 rw-p 00000000 00:00 0 [stack]\n");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].path, "[stack]");
}

}  // namespace
}  // namespace armorbench::attacks
