// Difficulty -> 256-bit share target, and the hash-versus-target comparison.
#include "armorbench/attacks/ShareTarget.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "armorbench/base/Hex.h"

namespace armorbench::attacks {
namespace {

__extension__ using Uint128 = unsigned __int128;

}  // namespace

ShareTarget ShareTarget::from_difficulty(double difficulty) {
  if (!std::isfinite(difficulty) || difficulty <= 0) {
    throw std::invalid_argument("difficulty must be finite and positive");
  }
  // Exact integer arithmetic: difficulty = mantissa * 2^exponent with a 53-bit integer mantissa,
  // so target = 0xFFFF * 2^208 / difficulty = (0xFFFF << (208 - exponent)) / mantissa.
  int binary_exponent = 0;
  const double fraction = std::frexp(difficulty, &binary_exponent);  // in [0.5, 1)
  const auto mantissa = static_cast<std::uint64_t>(std::ldexp(fraction, 53));
  const int exponent = binary_exponent - 53;
  const int shift = 208 - exponent;

  // Little-endian 64-bit limbs of 0xFFFF << max(shift, 0).
  const int left = std::max(shift, 0);
  std::vector<std::uint64_t> numerator(static_cast<std::size_t>(left / 64 + 2), 0);
  numerator[static_cast<std::size_t>(left / 64)] = std::uint64_t{0xFFFF} << (left % 64);
  if (left % 64 > 48) {
    numerator[static_cast<std::size_t>(left / 64 + 1)] = std::uint64_t{0xFFFF} >> (64 - left % 64);
  }
  // Long division by the mantissa, most significant limb first.
  Uint128 remainder = 0;
  for (std::size_t i = numerator.size(); i-- > 0;) {
    const Uint128 current = (remainder << 64) | numerator[i];
    numerator[i] = static_cast<std::uint64_t>(current / mantissa);
    remainder = current % mantissa;
  }
  // A negative shift (difficulty above 2^208-ish) divides by a further power of two.
  for (int right = std::max(-shift, 0); right > 0;) {
    const int step = std::min(right, 63);
    for (std::size_t i = 0; i < numerator.size(); ++i) {
      const std::uint64_t carry = i + 1 < numerator.size() ? numerator[i + 1] << (64 - step) : 0;
      numerator[i] = (numerator[i] >> step) | carry;
    }
    right -= step;
  }
  BigEndian target{};
  const bool overflow =
      std::any_of(numerator.begin() +
                      std::min<std::ptrdiff_t>(4, static_cast<std::ptrdiff_t>(numerator.size())),
                  numerator.end(), [](std::uint64_t limb) { return limb != 0; });
  if (overflow) {
    target.fill(0xff);
    return ShareTarget(target);
  }
  for (std::size_t limb = 0; limb < 4 && limb < numerator.size(); ++limb) {
    for (std::size_t byte = 0; byte < 8; ++byte) {
      target[31 - (limb * 8 + byte)] = static_cast<std::uint8_t>(numerator[limb] >> (8 * byte));
    }
  }
  return ShareTarget(target);
}

bool ShareTarget::is_met_by(const Sha256::Digest& hash) const {
  // hash[31] is the most significant byte of the little-endian number.
  for (std::size_t i = 0; i < 32; ++i) {
    const std::uint8_t h = hash[31 - i];
    if (h != target_[i]) return h < target_[i];
  }
  return true;  // equal meets the target
}

std::string ShareTarget::to_hex() const {
  return armorbench::to_hex(target_);
}

std::string ShareTarget::display_hex(const Sha256::Digest& hash) {
  Sha256::Digest reversed;
  std::reverse_copy(hash.begin(), hash.end(), reversed.begin());
  return armorbench::to_hex(reversed);
}

}  // namespace armorbench::attacks
