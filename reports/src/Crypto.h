// The cryptography the evidence formats need, from OpenSSL's libcrypto: SHA-1 (name-based UUIDs
// for OSCAL) and Ed25519 signatures over the bundle's in-toto statement (DSSE).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace armorbench::reports {

std::array<std::uint8_t, 20> sha1(std::string_view bytes);

// Signs `message` with the Ed25519 private key in a PEM file (PKCS#8, as `openssl genpkey
// -algorithm ed25519` writes it). Throws an input Error naming the file when it is not one.
std::string ed25519_sign(const std::filesystem::path& private_key_pem, std::string_view message);

// The key id of the public half of a PEM key (public or private): SHA-256 of its raw 32 bytes,
// hex. Throws an input Error when the file holds no Ed25519 key.
std::string ed25519_key_id(const std::filesystem::path& pem);

// Whether `signature` is a valid Ed25519 signature of `message` by the public key in a PEM file
// (SubjectPublicKeyInfo, as `openssl pkey -pubout` writes it). Throws an input Error when the file
// holds no Ed25519 public key.
bool ed25519_verify(const std::filesystem::path& public_key_pem, std::string_view message,
                    std::string_view signature);

}  // namespace armorbench::reports
