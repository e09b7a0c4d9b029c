// Streaming canary search with carry-over across chunk boundaries.
#include "armorbench/attacks/CanarySearch.h"

#include <algorithm>
#include <stdexcept>

namespace armorbench::attacks {
namespace {

std::vector<std::uint8_t> checked_pattern(std::span<const std::uint8_t> pattern) {
  if (pattern.empty()) throw std::invalid_argument("canary pattern must not be empty");
  return {pattern.begin(), pattern.end()};
}

}  // namespace

CanarySearch::CanarySearch(std::span<const std::uint8_t> pattern)
    : pattern_(checked_pattern(pattern)), searcher_(pattern_.cbegin(), pattern_.cend()) {}

std::optional<std::size_t> CanarySearch::find_in(std::span<const std::uint8_t> haystack) const {
  const auto it = std::search(haystack.begin(), haystack.end(), searcher_);
  if (it == haystack.end()) return std::nullopt;
  return static_cast<std::size_t>(it - haystack.begin());
}

std::optional<std::uint64_t> CanarySearch::feed(std::span<const std::uint8_t> chunk,
                                                std::uint64_t address) {
  const std::size_t keep = pattern_.size() - 1;
  if (carry_.empty() || carry_end_ != address) carry_.clear();

  std::optional<std::uint64_t> match;
  if (!carry_.empty()) {
    // Only a match that starts inside the carry can be new here: one starting in the chunk is
    // found below, and the carry alone is shorter than the pattern.
    junction_.assign(carry_.begin(), carry_.end());
    const std::size_t head = std::min(keep, chunk.size());
    junction_.insert(junction_.end(), chunk.begin(),
                     chunk.begin() + static_cast<std::ptrdiff_t>(head));
    if (const auto at = find_in(junction_)) match = address - carry_.size() + *at;
  }
  if (!match) {
    if (const auto at = find_in(chunk)) match = address + *at;
  }

  // New carry: the last `keep` bytes of carry+chunk, which is all that a later match can reuse.
  if (chunk.size() >= keep) {
    carry_.assign(chunk.end() - static_cast<std::ptrdiff_t>(keep), chunk.end());
  } else {
    carry_.insert(carry_.end(), chunk.begin(), chunk.end());
    if (carry_.size() > keep) {
      carry_.erase(carry_.begin(), carry_.end() - static_cast<std::ptrdiff_t>(keep));
    }
  }
  carry_end_ = address + chunk.size();
  return match;
}

}  // namespace armorbench::attacks
