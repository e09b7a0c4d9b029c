// mining.notify parsing and block-header assembly (byte orders explained in the header).
#include "armorbench/attacks/StratumJob.h"

#include <algorithm>
#include <stdexcept>

#include "armorbench/base/Hex.h"

namespace armorbench::attacks {
namespace {

void store_le32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
  p[2] = static_cast<std::uint8_t>(v >> 16);
  p[3] = static_cast<std::uint8_t>(v >> 24);
}

Sha256::Digest digest_from_hex(std::string_view hex) {
  const auto bytes = from_hex(hex);
  if (bytes.size() != 32) throw std::invalid_argument("expected a 32-byte hash in hex");
  Sha256::Digest out;
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return out;
}

// Swaps the bytes inside each 4-byte word; its own inverse.
Sha256::Digest swap_words(const Sha256::Digest& in) {
  Sha256::Digest out;
  for (std::size_t word = 0; word < 32; word += 4) {
    for (std::size_t i = 0; i < 4; ++i) out[word + i] = in[word + 3 - i];
  }
  return out;
}

const std::string& as_string(const nlohmann::json& value, const char* field) {
  if (!value.is_string())
    throw std::invalid_argument(std::string("mining.notify: ") + field + " is not a string");
  return value.get_ref<const std::string&>();
}

}  // namespace

Sha256::Digest StratumJob::prev_hash_from_stratum_hex(std::string_view hex) {
  return swap_words(digest_from_hex(hex));
}

std::string StratumJob::prev_hash_to_stratum_hex(const Sha256::Digest& prev_hash) {
  return to_hex(swap_words(prev_hash));
}

StratumJob StratumJob::from_notify_params(const nlohmann::json& params) {
  if (!params.is_array() || params.size() < 9) {
    throw std::invalid_argument("mining.notify: params must be an array of 9");
  }
  StratumJob job;
  job.job_id = as_string(params[0], "job_id");
  job.prev_hash = prev_hash_from_stratum_hex(as_string(params[1], "prevhash"));
  job.coinb1 = from_hex(as_string(params[2], "coinb1"));
  job.coinb2 = from_hex(as_string(params[3], "coinb2"));
  if (!params[4].is_array())
    throw std::invalid_argument("mining.notify: merkle_branch is not an array");
  for (const auto& node : params[4])
    job.merkle_branch.push_back(digest_from_hex(as_string(node, "merkle_branch")));
  job.version = u32_from_hex(as_string(params[5], "version"));
  job.nbits = u32_from_hex(as_string(params[6], "nbits"));
  job.ntime = u32_from_hex(as_string(params[7], "ntime"));
  if (!params[8].is_boolean())
    throw std::invalid_argument("mining.notify: clean_jobs is not a bool");
  job.clean_jobs = params[8].get<bool>();
  return job;
}

nlohmann::json StratumJob::to_notify_params() const {
  auto branch = nlohmann::json::array();
  for (const auto& node : merkle_branch) branch.push_back(to_hex(node));
  return nlohmann::json::array({job_id, prev_hash_to_stratum_hex(prev_hash), to_hex(coinb1),
                                to_hex(coinb2), branch, u32_to_hex(version), u32_to_hex(nbits),
                                u32_to_hex(ntime), clean_jobs});
}

std::vector<std::uint8_t> StratumJob::coinbase(std::span<const std::uint8_t> extranonce1,
                                               std::span<const std::uint8_t> extranonce2) const {
  std::vector<std::uint8_t> tx;
  tx.reserve(coinb1.size() + extranonce1.size() + extranonce2.size() + coinb2.size());
  tx.insert(tx.end(), coinb1.begin(), coinb1.end());
  tx.insert(tx.end(), extranonce1.begin(), extranonce1.end());
  tx.insert(tx.end(), extranonce2.begin(), extranonce2.end());
  tx.insert(tx.end(), coinb2.begin(), coinb2.end());
  return tx;
}

Sha256::Digest StratumJob::fold_merkle_branch(Sha256::Digest leaf,
                                              std::span<const Sha256::Digest> branch) {
  std::array<std::uint8_t, 64> pair;
  for (const auto& sibling : branch) {
    std::copy(leaf.begin(), leaf.end(), pair.begin());
    std::copy(sibling.begin(), sibling.end(), pair.begin() + 32);
    leaf = Sha256::double_digest(pair);
  }
  return leaf;
}

Sha256::Digest StratumJob::merkle_root(std::span<const std::uint8_t> extranonce1,
                                       std::span<const std::uint8_t> extranonce2) const {
  return fold_merkle_branch(Sha256::double_digest(coinbase(extranonce1, extranonce2)),
                            merkle_branch);
}

BlockHeader StratumJob::header(const Sha256::Digest& merkle_root, std::uint32_t header_ntime,
                               std::uint32_t nonce) const {
  BlockHeader h{};
  store_le32(h.data(), version);
  std::copy(prev_hash.begin(), prev_hash.end(), h.begin() + 4);
  // The merkle root goes in exactly as the double SHA-256 produced it (internal order).
  std::copy(merkle_root.begin(), merkle_root.end(), h.begin() + 36);
  store_le32(h.data() + 68, header_ntime);
  store_le32(h.data() + 72, nbits);
  store_le32(h.data() + 76, nonce);
  return h;
}

}  // namespace armorbench::attacks
