// libcrypto behind Crypto.h: EVP one-shot digests and EVP_DigestSign/Verify for Ed25519 (which
// signs the message itself, no pre-hash).
#include "Crypto.h"

#include <cstdio>
#include <memory>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "armorbench/base/Error.h"
#include "armorbench/base/Hex.h"
#include "armorbench/base/Sha256.h"

namespace armorbench::reports {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

// Reads a PEM key: a private key when `want_private`, else a public key (or the public half of
// a private key's file).
Pkey read_key(const std::filesystem::path& file, bool want_private) {
  std::unique_ptr<FILE, int (*)(FILE*)> in(std::fopen(file.c_str(), "r"), &std::fclose);
  if (!in) throw input_error("cannot read the key " + file.string());
  Pkey key(want_private ? PEM_read_PrivateKey(in.get(), nullptr, nullptr, nullptr)
                        : PEM_read_PUBKEY(in.get(), nullptr, nullptr, nullptr));
  if (!key && !want_private) {  // a private key's file also names its public key
    std::rewind(in.get());
    key.reset(PEM_read_PrivateKey(in.get(), nullptr, nullptr, nullptr));
  }
  if (!key)
    throw input_error(file.string() + ": not a PEM " +
                      (want_private ? std::string("private") : std::string("public")) +
                      " key (make one with: openssl genpkey -algorithm ed25519 -out key.pem; "
                      "openssl pkey -in key.pem -pubout -out key.pub)");
  if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519)
    throw input_error(file.string() + ": not an Ed25519 key");
  return key;
}

}  // namespace

std::array<std::uint8_t, 20> sha1(std::string_view bytes) {
  std::array<std::uint8_t, 20> out{};
  unsigned int size = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), out.data(), &size, EVP_sha1(), nullptr) != 1 ||
      size != out.size())
    throw harness_error("libcrypto: SHA-1 failed");
  return out;
}

std::string ed25519_sign(const std::filesystem::path& private_key_pem, std::string_view message) {
  const Pkey key = read_key(private_key_pem, true);
  MdCtx ctx(EVP_MD_CTX_new());
  std::size_t size = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &size,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1)
    throw harness_error("libcrypto: Ed25519 signing failed");
  std::string signature(size, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1)
    throw harness_error("libcrypto: Ed25519 signing failed");
  signature.resize(size);
  return signature;
}

std::string ed25519_key_id(const std::filesystem::path& pem) {
  const Pkey key = read_key(pem, false);
  std::array<std::uint8_t, 32> raw{};
  std::size_t size = raw.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), raw.data(), &size) != 1 || size != raw.size())
    throw harness_error("libcrypto: cannot read the Ed25519 public key of " + pem.string());
  return to_hex(Sha256::digest(raw));
}

bool ed25519_verify(const std::filesystem::path& public_key_pem, std::string_view message,
                    std::string_view signature) {
  const Pkey key = read_key(public_key_pem, false);
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1)
    throw harness_error("libcrypto: Ed25519 verification could not start");
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

}  // namespace armorbench::reports
