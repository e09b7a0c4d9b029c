// Midstate-based double SHA-256 of block headers for the nonce search.
#include "armorbench/attacks/HeaderHasher.h"

#include <algorithm>

namespace armorbench::attacks {

HeaderHasher::HeaderHasher(const BlockHeader& header) : midstate_(Sha256::kInitialState), tail_{} {
  Sha256::compress(midstate_, header.data());
  std::copy(header.begin() + 64, header.end(), tail_.begin());
  tail_[16] = 0x80;
  // Message length 640 bits, big-endian in the last 8 bytes.
  tail_[62] = 0x02;
  tail_[63] = 0x80;
}

Sha256::Digest HeaderHasher::hash(std::uint32_t nonce) const {
  auto block = tail_;
  block[12] = static_cast<std::uint8_t>(nonce);
  block[13] = static_cast<std::uint8_t>(nonce >> 8);
  block[14] = static_cast<std::uint8_t>(nonce >> 16);
  block[15] = static_cast<std::uint8_t>(nonce >> 24);
  auto first = midstate_;
  Sha256::compress(first, block.data());

  // Second SHA-256 over the 32-byte first digest: one padded block, length 256 bits.
  std::array<std::uint8_t, 64> second_block{};
  const auto first_digest = Sha256::to_digest(first);
  std::copy(first_digest.begin(), first_digest.end(), second_block.begin());
  second_block[32] = 0x80;
  second_block[62] = 0x01;
  auto second = Sha256::kInitialState;
  Sha256::compress(second, second_block.data());
  return Sha256::to_digest(second);
}

std::optional<HeaderHasher::Hit> HeaderHasher::search(std::uint32_t first, std::uint32_t count,
                                                      const ShareTarget& target) const {
  for (std::uint64_t n = first; n < std::uint64_t{first} + count; ++n) {
    const auto nonce = static_cast<std::uint32_t>(n);
    const auto digest = hash(nonce);
    if (target.is_met_by(digest)) return Hit{nonce, digest};
  }
  return std::nullopt;
}

}  // namespace armorbench::attacks
