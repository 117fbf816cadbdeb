// SHA-256 (FIPS 180-4), streaming, no allocation. The firmware prints the
// same predictions_sha256 / outputs_sha256 as `edgemlp eval --json` without
// OpenSSL, which the board builds do not link.
#ifndef EDGEMLP_FIRMWARE_SHA256_H_
#define EDGEMLP_FIRMWARE_SHA256_H_

#include <cstddef>
#include <cstdint>

namespace edgemlp::firmware {

class Sha256 {
 public:
  Sha256();
  void Update(const void* data, size_t size);
  // Writes 64 lowercase hex digits and a NUL into hex[65]. Ends the stream.
  void FinishHex(char hex[65]);

 private:
  void Block(const uint8_t* block);
  uint32_t state_[8];
  uint8_t buffer_[64];
  uint64_t length_ = 0;  // bytes
};

}  // namespace edgemlp::firmware

#endif  // EDGEMLP_FIRMWARE_SHA256_H_
