// Stratum header assembly against real Bitcoin blocks, whose hashes are public, so that byte
// orders are checked against the chain rather than against our own pool.
#include <gtest/gtest.h>

#include "armorbench/attacks/HeaderHasher.h"
#include "armorbench/attacks/ShareTarget.h"
#include "armorbench/attacks/StratumJob.h"
#include "armorbench/base/Hex.h"

namespace armorbench::attacks {
namespace {

Sha256::Digest digest_of_display_hex(const std::string& display) {
  auto bytes = from_hex(display);
  Sha256::Digest out;
  std::copy(bytes.rbegin(), bytes.rend(), out.begin());
  return out;
}

// Genesis block coinbase transaction (block 0), the "Chancellor on brink" one.
constexpr const char* kGenesisCoinbase =
    "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff4d04ffff00"
    "1d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b"
    "206f66207365636f6e64206261696c6f757420666f722062616e6b73ffffffff0100f2052a0100000043410467"
    "8afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec1"
    "12de5c384df7ba0b8d578a4c702b6bf11d5fac00000000";

// Splits a real coinbase into coinb1 | extranonce1 | extranonce2 | coinb2 as a pool would.
struct SplitCoinbase {
  StratumJob job;
  std::vector<std::uint8_t> extranonce1;
  std::vector<std::uint8_t> extranonce2;
};

SplitCoinbase split(const std::string& coinbase_hex, std::size_t at, std::size_t en1,
                    std::size_t en2) {
  const auto tx = from_hex(coinbase_hex);
  SplitCoinbase s;
  s.job.coinb1.assign(tx.begin(), tx.begin() + static_cast<std::ptrdiff_t>(at));
  s.extranonce1.assign(tx.begin() + static_cast<std::ptrdiff_t>(at),
                       tx.begin() + static_cast<std::ptrdiff_t>(at + en1));
  s.extranonce2.assign(tx.begin() + static_cast<std::ptrdiff_t>(at + en1),
                       tx.begin() + static_cast<std::ptrdiff_t>(at + en1 + en2));
  s.job.coinb2.assign(tx.begin() + static_cast<std::ptrdiff_t>(at + en1 + en2), tx.end());
  return s;
}

TEST(StratumJobTest, GenesisBlockHeaderHashesToTheGenesisHash) {
  auto s = split(kGenesisCoinbase, 42, 4, 4);
  // The values as a pool would send them in mining.notify.
  s.job = StratumJob::from_notify_params(nlohmann::json::array(
      {"genesis", std::string(64, '0'), to_hex(s.job.coinb1), to_hex(s.job.coinb2),
       nlohmann::json::array(), "00000001", "1d00ffff", "495fab29", true}));
  const auto root = s.job.merkle_root(s.extranonce1, s.extranonce2);
  EXPECT_EQ(ShareTarget::display_hex(root),
            "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b");
  const auto header = s.job.header(root, s.job.ntime, 2083236893);
  EXPECT_EQ(ShareTarget::display_hex(Sha256::double_digest(header)),
            "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f");
  // The midstate path must agree with hashing the whole header.
  EXPECT_EQ(HeaderHasher(header).hash(2083236893), Sha256::double_digest(header));
}

TEST(StratumJobTest, BlockOneUsesWordSwappedPrevHash) {
  // Block 1: its prevhash (the genesis hash) is the first non-zero one, so it checks the
  // word swap. Stratum sends the genesis hash as the display hex with its 8 words reversed.
  const std::string stratum_prev =
      "0a8ce26f72b3f1b646a2a6c14ff763ae65831e939c085ae10019d66800000000";
  EXPECT_EQ(
      StratumJob::prev_hash_from_stratum_hex(stratum_prev),
      digest_of_display_hex("000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"));
  EXPECT_EQ(
      StratumJob::prev_hash_to_stratum_hex(StratumJob::prev_hash_from_stratum_hex(stratum_prev)),
      stratum_prev);

  const std::string coinbase =
      "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff0704ffff"
      "001d0104ffffffff0100f2052a0100000043410496b538e853519c726a2c91e61ec11600ae1390813a627c66fb"
      "8be7947be63c52da7589379515d4e0a604f8141781e62294721166bf621e73a82cbf2342c858eeac00000000";
  auto s = split(coinbase, 41, 4, 2);
  s.job = StratumJob::from_notify_params(
      nlohmann::json::array({"b1", stratum_prev, to_hex(s.job.coinb1), to_hex(s.job.coinb2),
                             nlohmann::json::array(), "00000001", "1d00ffff", "4966bc61", false}));
  const auto root = s.job.merkle_root(s.extranonce1, s.extranonce2);
  EXPECT_EQ(ShareTarget::display_hex(root),
            "0e3e2357e806b6cdb1f70b54c3a3a17b6714ee1f0e68bebb44a74b1efd512098");
  const auto header = s.job.header(root, s.job.ntime, 2573394689u);
  const auto hash = HeaderHasher(header).hash(2573394689u);
  EXPECT_EQ(ShareTarget::display_hex(hash),
            "00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048");
  EXPECT_TRUE(ShareTarget::from_difficulty(1).is_met_by(hash));
}

TEST(StratumJobTest, MerkleBranchFoldsLikeBlock170) {
  // Block 170 has two transactions; the coinbase's branch is the second tx's hash.
  const auto coinbase_hash =
      digest_of_display_hex("b1fea52486ce0c62bb442b530a3f0132b826c74e473d1f2c220bfa78111c5082");
  const auto tx1 =
      digest_of_display_hex("f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16");
  const std::vector<Sha256::Digest> branch{tx1};
  EXPECT_EQ(ShareTarget::display_hex(StratumJob::fold_merkle_branch(coinbase_hash, branch)),
            "7dac2c5666815c17a3b36427de37bb9d2e2c5ccec3f8633eb91a4205cb4c10ff");
}

TEST(StratumJobTest, NotifyParamsRoundTripAndRejectGarbage) {
  StratumJob job;
  job.job_id = "j1";
  job.prev_hash[0] = 0x12;
  job.coinb1 = {1, 2, 3};
  job.coinb2 = {4};
  job.merkle_branch.push_back(Sha256::digest(job.coinb1));
  job.version = 0x20000000;
  job.nbits = 0x1d00ffff;
  job.ntime = 0x66000000;
  job.clean_jobs = true;
  const auto back = StratumJob::from_notify_params(job.to_notify_params());
  EXPECT_EQ(back.job_id, job.job_id);
  EXPECT_EQ(back.prev_hash, job.prev_hash);
  EXPECT_EQ(back.coinb1, job.coinb1);
  EXPECT_EQ(back.merkle_branch, job.merkle_branch);
  EXPECT_EQ(back.version, job.version);
  EXPECT_EQ(back.ntime, job.ntime);
  EXPECT_TRUE(back.clean_jobs);
  EXPECT_THROW(StratumJob::from_notify_params(nlohmann::json::array({"only", "two"})),
               std::invalid_argument);
  auto bad = job.to_notify_params();
  bad[5] = "123";
  EXPECT_THROW(StratumJob::from_notify_params(bad), std::invalid_argument);
}

TEST(ShareTargetTest, TargetsForKnownDifficulties) {
  EXPECT_EQ(ShareTarget::from_difficulty(1).to_hex(),
            "00000000ffff0000000000000000000000000000000000000000000000000000");
  EXPECT_EQ(ShareTarget::from_difficulty(2).to_hex(),
            "000000007fff8000000000000000000000000000000000000000000000000000");
  EXPECT_EQ(ShareTarget::from_difficulty(65536).to_hex(),
            "000000000000ffff000000000000000000000000000000000000000000000000");
  EXPECT_EQ(ShareTarget::from_difficulty(1.0 / 65536).to_hex(),
            "0000ffff00000000000000000000000000000000000000000000000000000000");
  EXPECT_EQ(ShareTarget::from_difficulty(1e-12).to_hex(), std::string(64, 'f'));
  EXPECT_THROW(ShareTarget::from_difficulty(0), std::invalid_argument);
  EXPECT_THROW(ShareTarget::from_difficulty(-1), std::invalid_argument);
}

TEST(ShareTargetTest, ComparesHashAsLittleEndianNumber) {
  const auto target = ShareTarget::from_difficulty(1);
  Sha256::Digest hash{};
  hash[27] = 0xff;  // most significant non-zero byte at 0x...ff.. position 4 from the top
  hash[26] = 0xff;
  EXPECT_TRUE(target.is_met_by(hash));  // == 0x00000000ffff00.. exactly
  hash[25] = 0x01;
  EXPECT_FALSE(target.is_met_by(hash));  // just above
  Sha256::Digest big_low_bytes{};
  big_low_bytes[0] = 0xff;  // least significant byte: tiny number
  EXPECT_TRUE(target.is_met_by(big_low_bytes));
}

TEST(HeaderHasherTest, SearchFindsFirstNonceMeetingTarget) {
  StratumJob job;
  job.version = 0x20000000;
  const auto header = job.header(Sha256::digest(job.coinb1), 0x66000000, 0);
  const HeaderHasher hasher(header);
  const auto target = ShareTarget::from_difficulty(1.0 / 65536);
  const auto hit = hasher.search(0, 1u << 22, target);
  ASSERT_TRUE(hit);
  EXPECT_TRUE(target.is_met_by(hit->hash));
  EXPECT_EQ(hit->hash,
            Sha256::double_digest(job.header(Sha256::digest(job.coinb1), 0x66000000, hit->nonce)));
  // Nothing before it qualifies.
  if (hit->nonce > 0) {
    EXPECT_FALSE(hasher.search(0, hit->nonce, target));
  }
}

}  // namespace
}  // namespace armorbench::attacks
