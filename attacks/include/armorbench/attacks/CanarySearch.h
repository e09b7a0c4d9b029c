// Streaming search for a fixed byte pattern (the model canary) over memory read in chunks.
// Memory arrives chunk by chunk from a reader that cannot see the whole address space at once,
// so a match may straddle two chunks; the search carries the tail of the previous chunk over and
// forgets it when the next chunk is not contiguous with it (an unreadable page, a region gap).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

namespace armorbench::attacks {

class CanarySearch {
 public:
  // The pattern must not be empty. Throws std::invalid_argument otherwise.
  explicit CanarySearch(std::span<const std::uint8_t> pattern);

  // Feeds the bytes found at `address` (a virtual address or a file offset). Returns the address
  // of the first match that ends inside this chunk, including one that began in earlier chunks
  // contiguous with it. After a match, further calls keep searching past it.
  std::optional<std::uint64_t> feed(std::span<const std::uint8_t> chunk, std::uint64_t address);

  // Drops the carried tail, e.g. when the caller knows the stream is interrupted.
  void reset() { carry_.clear(); }

  std::size_t pattern_size() const { return pattern_.size(); }

  // One-shot search of a whole buffer: offset of the first match.
  std::optional<std::size_t> find_in(std::span<const std::uint8_t> haystack) const;

 private:
  std::vector<std::uint8_t> pattern_;
  // Horspool's skip table: for a 32-byte random pattern most probes jump a full pattern
  // length, and memory dumps are dominated by zero pages that never match a pattern byte.
  std::boyer_moore_horspool_searcher<std::vector<std::uint8_t>::const_iterator> searcher_;
  std::vector<std::uint8_t> carry_;  // last pattern_size()-1 bytes seen, at most
  std::uint64_t carry_end_ = 0;      // address just past carry_
  std::vector<std::uint8_t> junction_;
};

}  // namespace armorbench::attacks
