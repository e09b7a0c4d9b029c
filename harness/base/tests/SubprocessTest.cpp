// Subprocess helpers that need no child: the output tail kept for messages and evidence.
#include "armorbench/base/Subprocess.h"

#include <gtest/gtest.h>

namespace armorbench {
namespace {

TEST(OutputTail, KeepsShortOutputAndMarksACut) {
  EXPECT_EQ(output_tail("short", 10), "short");
  EXPECT_EQ(output_tail("0123456789", 10), "0123456789");
  EXPECT_EQ(output_tail("0123456789abc", 4), "...9abc");
  EXPECT_EQ(output_tail("", 4), "");
}

}  // namespace
}  // namespace armorbench
