// SHA-256 (FIPS 180-4), written here because the project links no crypto library. Besides the
// usual streaming interface it exposes the compression function, which the miner needs to hash
// block headers from a precomputed midstate.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace armorbench {

class Sha256 {
 public:
  using Digest = std::array<std::uint8_t, 32>;
  using State = std::array<std::uint32_t, 8>;
  static constexpr std::size_t kBlockSize = 64;
  static constexpr State kInitialState = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                          0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

  void update(std::span<const std::uint8_t> data);
  // Pads, returns the digest and leaves the object ready for a new message.
  Digest finish();

  static Digest digest(std::span<const std::uint8_t> data);
  // SHA-256 of SHA-256: Bitcoin's hash for transactions, merkle nodes and block headers.
  static Digest double_digest(std::span<const std::uint8_t> data);

  // One application of the compression function to a 64-byte block.
  static void compress(State& state, const std::uint8_t* block);
  // The state's words written big-endian, as the final digest is.
  static Digest to_digest(const State& state);

 private:
  State state_ = kInitialState;
  std::array<std::uint8_t, kBlockSize> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t total_bytes_ = 0;
};

}  // namespace armorbench
