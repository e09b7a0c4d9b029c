// Nonce search over one block header. The 80-byte header spans two SHA-256 blocks and the nonce
// sits in the second, so the first block's compression (the "midstate") is computed once per
// header and each nonce costs two compressions instead of three.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "armorbench/attacks/ShareTarget.h"
#include "armorbench/attacks/StratumJob.h"
#include "armorbench/base/Sha256.h"

namespace armorbench::attacks {

class HeaderHasher {
 public:
  // The header's nonce field (bytes 76..79) is ignored: the nonce is supplied per call.
  explicit HeaderHasher(const BlockHeader& header);

  // Double SHA-256 of the header with `nonce` stored little-endian in bytes 76..79.
  Sha256::Digest hash(std::uint32_t nonce) const;

  struct Hit {
    std::uint32_t nonce;
    Sha256::Digest hash;
  };
  // First nonce in [first, first + count) whose hash meets the target; `count` must not run past
  // 2^32 - first.
  std::optional<Hit> search(std::uint32_t first, std::uint32_t count,
                            const ShareTarget& target) const;

 private:
  Sha256::State midstate_;
  std::array<std::uint8_t, 64> tail_;  // header bytes 64..79 plus SHA-256 padding for 80 bytes
};

}  // namespace armorbench::attacks
