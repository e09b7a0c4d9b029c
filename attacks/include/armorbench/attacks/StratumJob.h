// A Stratum v1 mining job (the params of mining.notify) and the Bitcoin block-header assembly
// from it. Shared by the miner, which searches nonces, and the fake pool, which re-derives the
// header of each submitted share to verify it; both must agree on every byte order.
//
// Byte orders, because Stratum mixes three conventions in one message:
//  - coinb1, coinb2, extranonce1, extranonce2: raw bytes in hex, concatenated as they come.
//  - merkle_branch entries: raw double-SHA-256 outputs ("internal" order), hashed as they come.
//  - prevhash: the header's 32 bytes with each 4-byte word byte-swapped (a legacy of getwork,
//    which handed miners the header as big-endian 32-bit words). Undo by swapping each word.
//  - version, nbits, ntime: 8 hex digits of a 32-bit number, most significant first; the header
//    stores them little-endian.
//  - nonce (in mining.submit): like ntime, 8 hex digits of the number the header stores
//    little-endian.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "armorbench/base/Sha256.h"

namespace armorbench::attacks {

using BlockHeader = std::array<std::uint8_t, 80>;

struct StratumJob {
  std::string job_id;
  Sha256::Digest prev_hash{};  // header byte order
  std::vector<std::uint8_t> coinb1;
  std::vector<std::uint8_t> coinb2;
  std::vector<Sha256::Digest> merkle_branch;
  std::uint32_t version = 0;
  std::uint32_t nbits = 0;
  std::uint32_t ntime = 0;
  bool clean_jobs = false;

  // Throws std::invalid_argument on a malformed params array.
  static StratumJob from_notify_params(const nlohmann::json& params);
  nlohmann::json to_notify_params() const;

  std::vector<std::uint8_t> coinbase(std::span<const std::uint8_t> extranonce1,
                                     std::span<const std::uint8_t> extranonce2) const;
  Sha256::Digest merkle_root(std::span<const std::uint8_t> extranonce1,
                             std::span<const std::uint8_t> extranonce2) const;
  // version | prev_hash | merkle_root | ntime | nbits | nonce, integers little-endian.
  BlockHeader header(const Sha256::Digest& merkle_root, std::uint32_t ntime,
                     std::uint32_t nonce) const;

  // The coinbase is the leftmost leaf, so each step hashes (running || sibling).
  static Sha256::Digest fold_merkle_branch(Sha256::Digest leaf,
                                           std::span<const Sha256::Digest> branch);
  static Sha256::Digest prev_hash_from_stratum_hex(std::string_view hex);
  static std::string prev_hash_to_stratum_hex(const Sha256::Digest& prev_hash);
};

}  // namespace armorbench::attacks
