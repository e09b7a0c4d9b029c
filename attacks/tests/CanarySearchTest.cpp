// CanarySearch: matches anywhere in a stream fed in chunks of any size, never across gaps.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "armorbench/attacks/CanarySearch.h"

namespace armorbench::attacks {
namespace {

std::vector<std::uint8_t> random_bytes(std::size_t n, std::mt19937& rng) {
  std::vector<std::uint8_t> out(n);
  for (auto& b : out) b = static_cast<std::uint8_t>(rng());
  return out;
}

// Feeds `data` at base address 0x1000 in chunks of `chunk` bytes; first match address.
std::optional<std::uint64_t> feed_in_chunks(CanarySearch& search,
                                            const std::vector<std::uint8_t>& data,
                                            std::size_t chunk) {
  for (std::size_t off = 0; off < data.size(); off += chunk) {
    const std::size_t len = std::min(chunk, data.size() - off);
    if (auto match = search.feed({data.data() + off, len}, 0x1000 + off)) return match;
  }
  return std::nullopt;
}

TEST(CanarySearchTest, RejectsEmptyPattern) {
  EXPECT_THROW(CanarySearch(std::span<const std::uint8_t>{}), std::invalid_argument);
}

TEST(CanarySearchTest, FindsPatternAtEveryOffsetWithEveryChunkSize) {
  std::mt19937 rng(7);
  const auto pattern = random_bytes(32, rng);
  for (std::size_t at : {0u, 1u, 31u, 32u, 33u, 63u, 64u, 90u, 127u - 32u}) {
    std::vector<std::uint8_t> data(127, 0);
    std::copy(pattern.begin(), pattern.end(), data.begin() + static_cast<std::ptrdiff_t>(at));
    for (std::size_t chunk = 1; chunk <= data.size(); ++chunk) {
      CanarySearch search(pattern);
      const auto match = feed_in_chunks(search, data, chunk);
      ASSERT_TRUE(match) << "at " << at << " chunk " << chunk;
      EXPECT_EQ(*match, 0x1000 + at) << "chunk " << chunk;
    }
  }
}

TEST(CanarySearchTest, NoMatchAcrossAddressGap) {
  std::mt19937 rng(11);
  const auto pattern = random_bytes(32, rng);
  CanarySearch search(pattern);
  // First half ends one page, second half starts at a non-contiguous address.
  EXPECT_FALSE(search.feed({pattern.data(), 16}, 0x1000 - 16));
  EXPECT_FALSE(search.feed({pattern.data() + 16, 16}, 0x3000));
  // Contiguous again: the split pattern is found.
  CanarySearch contiguous(pattern);
  EXPECT_FALSE(contiguous.feed({pattern.data(), 16}, 0x1000 - 16));
  EXPECT_EQ(contiguous.feed({pattern.data() + 16, 16}, 0x1000), 0x1000u - 16);
}

TEST(CanarySearchTest, ResetForgetsCarry) {
  std::mt19937 rng(12);
  const auto pattern = random_bytes(32, rng);
  CanarySearch search(pattern);
  EXPECT_FALSE(search.feed({pattern.data(), 20}, 0));
  search.reset();
  EXPECT_FALSE(search.feed({pattern.data() + 20, 12}, 20));
}

TEST(CanarySearchTest, PartialPrefixesDoNotMatch) {
  std::mt19937 rng(13);
  const auto pattern = random_bytes(32, rng);
  // 31 of 32 bytes repeated: no match anywhere, in any chunking.
  std::vector<std::uint8_t> data;
  for (int i = 0; i < 50; ++i) data.insert(data.end(), pattern.begin(), pattern.end() - 1);
  for (std::size_t chunk : {1u, 7u, 31u, 32u, 33u, 4096u}) {
    CanarySearch search(pattern);
    EXPECT_FALSE(feed_in_chunks(search, data, chunk)) << chunk;
  }
}

TEST(CanarySearchTest, AgreesWithNaiveSearchOnRandomStreams) {
  std::mt19937 rng(42);
  // A 4-letter alphabet and a short pattern make chance matches and near misses frequent.
  for (int round = 0; round < 300; ++round) {
    std::vector<std::uint8_t> pattern(1 + rng() % 6);
    for (auto& b : pattern) b = static_cast<std::uint8_t>(rng() % 4);
    std::vector<std::uint8_t> data(rng() % 200);
    for (auto& b : data) b = static_cast<std::uint8_t>(rng() % 4);
    const auto naive = std::search(data.begin(), data.end(), pattern.begin(), pattern.end());
    const std::size_t chunk = 1 + rng() % 17;
    CanarySearch search(pattern);
    const auto match = feed_in_chunks(search, data, chunk);
    if (naive == data.end()) {
      EXPECT_FALSE(match);
    } else {
      ASSERT_TRUE(match);
      EXPECT_EQ(*match, 0x1000u + static_cast<std::uint64_t>(naive - data.begin()));
    }
  }
}

}  // namespace
}  // namespace armorbench::attacks
