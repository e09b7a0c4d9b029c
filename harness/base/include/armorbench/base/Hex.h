// Hex encoding of byte strings, as used by the memdump CLI (canaries) and Stratum (all binary
// fields travel as lowercase hex inside JSON).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace armorbench {

std::string to_hex(std::span<const std::uint8_t> bytes);

// Throws std::invalid_argument on odd length or a non-hex digit; accepts either case.
std::vector<std::uint8_t> from_hex(std::string_view hex);

// Hex of a 32-bit value as Stratum writes version/nbits/ntime/nonce: 8 digits, most significant
// first.
std::string u32_to_hex(std::uint32_t value);
std::uint32_t u32_from_hex(std::string_view hex);

// `bytes` random bytes from the kernel (getrandom), as hex: nonces, run ids.
std::string random_hex(std::size_t bytes);

}  // namespace armorbench
