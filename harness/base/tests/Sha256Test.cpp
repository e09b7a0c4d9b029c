// SHA-256 against the FIPS 180-4 / NIST CAVP example vectors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "armorbench/base/Files.h"
#include "armorbench/base/Hex.h"
#include "armorbench/base/Sha256.h"

namespace armorbench {
namespace {

std::span<const std::uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

std::string sha256_hex(std::string_view text) {
  return to_hex(Sha256::digest(bytes_of(text)));
}

TEST(Sha256Test, NistShortVectors) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnop"
                       "jklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

TEST(Sha256Test, DigestFileReadsInChunksAndSaysWhenItCannot) {
  // 3 MiB + 1: past the 1 MiB read chunk in both directions; the digest NIST gives for a
  // million 'a' checks the chunking with a file of exactly that content.
  const auto file = std::filesystem::temp_directory_path() / ("ab-digest-" + random_hex(4));
  std::ofstream(file, std::ios::binary) << std::string(1'000'000, 'a');
  const auto digest = digest_file(file);
  ASSERT_TRUE(digest.has_value());
  EXPECT_EQ(digest->sha256, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(digest->bytes, 1'000'000u);
  const std::string big((3 << 20) + 1, 'z');
  std::ofstream(file, std::ios::binary | std::ios::trunc) << big;
  EXPECT_EQ(digest_file(file)->sha256, sha256_hex(big));
  std::filesystem::remove(file);
  EXPECT_FALSE(digest_file(file).has_value());
  EXPECT_FALSE(digest_file(std::filesystem::temp_directory_path()).has_value());  // a directory
}

TEST(Sha256Test, OneMillionA) {
  const std::string million(1'000'000, 'a');
  EXPECT_EQ(sha256_hex(million),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // The same message streamed in pieces that straddle block boundaries in every way.
  Sha256 streamed;
  std::size_t fed = 0;
  for (std::size_t piece = 1; fed < million.size(); piece = piece % 131 + 1) {
    const std::size_t n = std::min(piece, million.size() - fed);
    streamed.update(bytes_of(std::string_view(million).substr(fed, n)));
    fed += n;
  }
  EXPECT_EQ(to_hex(streamed.finish()),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, PaddingEdgesMatchStreamingAndOneShot) {
  // Lengths around the 55/56/64-byte padding boundaries, one-shot versus byte-at-a-time.
  for (std::size_t len : {55u, 56u, 57u, 63u, 64u, 65u, 119u, 120u, 128u}) {
    const std::string msg(len, 'x');
    Sha256 bytewise;
    for (char c : msg) bytewise.update(bytes_of(std::string_view(&c, 1)));
    EXPECT_EQ(to_hex(bytewise.finish()), sha256_hex(msg)) << len;
  }
}

TEST(Sha256Test, FinishResetsForReuse) {
  Sha256 hasher;
  hasher.update(bytes_of("abc"));
  (void)hasher.finish();
  hasher.update(bytes_of("abc"));
  EXPECT_EQ(to_hex(hasher.finish()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, DoubleDigestIsShaOfSha) {
  EXPECT_EQ(to_hex(Sha256::double_digest(bytes_of("hello"))),
            to_hex(Sha256::digest(Sha256::digest(bytes_of("hello")))));
}

}  // namespace
}  // namespace armorbench
