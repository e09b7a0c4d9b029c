// Hex helpers: round trips, case, and rejection of malformed input.
#include <gtest/gtest.h>

#include "armorbench/base/Hex.h"

namespace armorbench {
namespace {

TEST(HexTest, RoundTrips) {
  const std::vector<std::uint8_t> bytes{0x00, 0x01, 0xab, 0xff};
  EXPECT_EQ(to_hex(bytes), "0001abff");
  EXPECT_EQ(from_hex("0001ABff"), bytes);
  EXPECT_TRUE(from_hex("").empty());
}

TEST(HexTest, RejectsMalformed) {
  EXPECT_THROW(from_hex("abc"), std::invalid_argument);
  EXPECT_THROW(from_hex("zz"), std::invalid_argument);
  EXPECT_THROW(u32_from_hex("0102"), std::invalid_argument);
}

TEST(HexTest, U32IsMostSignificantFirst) {
  EXPECT_EQ(u32_to_hex(0x1d00ffff), "1d00ffff");
  EXPECT_EQ(u32_from_hex("20000000"), 0x20000000u);
}

}  // namespace
}  // namespace armorbench
