// The 256-bit target a share's block hash must not exceed, derived from a Stratum difficulty.
// Pools express work as difficulty relative to Bitcoin's difficulty-1 target
// 0x00000000FFFF0000...0000; the share target is that divided by the difficulty, so a fractional
// difficulty (1/65536) gives a target easy enough for one CPU core to hit in milliseconds.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "armorbench/base/Sha256.h"

namespace armorbench::attacks {

class ShareTarget {
 public:
  using BigEndian = std::array<std::uint8_t, 32>;

  // Throws std::invalid_argument unless difficulty is finite and > 0. A difficulty so small that
  // the quotient exceeds 2^256-1 saturates (every hash meets it).
  static ShareTarget from_difficulty(double difficulty);

  // `hash` is the raw double-SHA-256 of a header. Bitcoin reads those 32 bytes as a little-endian
  // integer (that is why block hashes are displayed reversed, with the zeros first).
  bool is_met_by(const Sha256::Digest& hash) const;

  std::string to_hex() const;  // 64 digits, most significant first
  const BigEndian& big_endian() const { return target_; }

  // The hash as explorers and pools print it: byte-reversed hex, leading zeros first.
  static std::string display_hex(const Sha256::Digest& hash);

 private:
  explicit ShareTarget(const BigEndian& target) : target_(target) {}
  BigEndian target_;
};

}  // namespace armorbench::attacks
