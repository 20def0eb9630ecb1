// SHA-256 through OpenSSL's EVP interface, written once: S3 payload hashes, the fallback facts
// of unusable uploads and the digests of the artifacts the service publishes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace dancer::common {

// An incremental SHA-256 (the EVP context is owned and freed). Throws std::runtime_error if
// OpenSSL fails, which it does only when out of memory.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, std::size_t size);
  // Lower-case hex of the digest; the object is spent afterwards.
  std::string hex();

 private:
  evp_md_ctx_st* context_;
};

// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

struct FileDigest {
  std::uint64_t size = 0;
  std::string sha256;  // lower-case hex
};

// Size and SHA-256 of a file, read in fixed-size blocks (constant memory). Throws
// std::system_error when it cannot be opened or read.
FileDigest sha256_file(const std::filesystem::path& path);

}  // namespace dancer::common
