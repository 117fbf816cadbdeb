// The firmware's SHA-256 (the eval digests it prints) against FIPS 180-4.
#include "sha256.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "firmware_test_util.h"

namespace edgemlp::firmware {
namespace {

TEST_CASE("SHA-256 matches the FIPS 180-4 examples, in any chunking") {
  CHECK(HashHex("", 0) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(HashHex("abc", 3) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CHECK(HashHex(two_blocks.data(), two_blocks.size()) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const std::string million(1000000, 'a');
  Sha256 chunked;
  for (size_t at = 0; at < million.size(); at += 997) {
    chunked.Update(million.data() + at, std::min<size_t>(997, million.size() - at));
  }
  char hex[65];
  chunked.FinishHex(hex);
  CHECK(std::string(hex) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

}  // namespace
}  // namespace edgemlp::firmware
