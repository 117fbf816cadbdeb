// The camera source's image path on real digits: MNIST test digits photographed
// (scaled up, off-centre, dark ink on an unevenly lit light page, sensor noise)
// into 640x480 frames in every pixel format the camera accepts, then luma
// extraction + MNIST preprocessing, must give the digit the model predicts
// for the original 28x28 image. Needs MNIST ($EDGEMLP_DATA) and the trained
// blob tests/data/golden_v1_0.bin (784-32-10, 91% on the test set).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "camera_formats.h"
#include "camera_frames.h"
#include "edgemlp/mnist_frame.h"
#include "edgemlp/runtime.h"
#include "idx.h"
#include "photo.h"
#include "test_util.h"

namespace edgemlp::firmware {
namespace {

constexpr int kWidth = 640, kHeight = 480;

TEST_CASE("camera frames of MNIST digits in every format get the 28x28 image's prediction") {
  Network net;
  const std::string blob = std::string(EDGEMLP_SOURCE_ROOT) + "/tests/data/golden_v1_0.bin";
  const LoadResult loaded = Network::LoadFile(blob.c_str(), &net);
  REQUIRE_MESSAGE(loaded.ok(), loaded.message);
  const ImageSet images = ReadIdxImages(edgemlp::test::MnistDir() + "/t10k-images-idx3-ubyte.gz");
  REQUIRE(images.count == 10000);

  constexpr int kDigits = 330;  // 30 per format
  constexpr int kFormats = sizeof(kLumaFormats) / sizeof(kLumaFormats[0]);
  std::mt19937_64 rng(7);
  FastNoise noise{7};
  std::vector<uint8_t> gray(size_t{kWidth} * kHeight);
  int agree = 0, agree_by_format[kFormats] = {}, tried_by_format[kFormats] = {};
  int32_t logits[10];
  for (int i = 0; i < kDigits; ++i) {
    const size_t index = static_cast<size_t>(i) * 29 % images.count;  // spread over the set
    const uint8_t* digit = images.image(index);
    const int want = net.Predict(digit, logits);
    // 6x..14x (168..392 px), anywhere in the frame: rarely centred.
    const double scale = std::uniform_real_distribution<double>(6, 14)(rng);
    const int side = static_cast<int>(28 * scale);
    const int left = std::uniform_int_distribution<int>(0, kWidth - side)(rng);
    const int top = std::uniform_int_distribution<int>(0, kHeight - side)(rng);
    const std::vector<uint8_t> photo = Photograph(digit, scale, left, top, kWidth, kHeight, noise);

    const int f = i % kFormats;
    const EncodedFrame encoded =
        EncodeCameraFrame(kLumaFormats[f], photo, kWidth, kHeight, (i % 3) * 32, i);
    const char* error =
        ExtractLuma(encoded.layout, encoded.bytes.data(), encoded.bytes.size(), gray.data());
    REQUIRE_MESSAGE(error == nullptr, error);
    uint8_t frame[kFrameBytes];
    PreprocessLikeMnist(GrayImage{gray.data(), kWidth, kHeight}, frame);
    const int got = net.Predict(frame, logits);
    agree += got == want;
    agree_by_format[f] += got == want;
    ++tried_by_format[f];
  }
  const double rate = static_cast<double>(agree) / kDigits;
  std::printf("camera frames agreeing with the 28x28 prediction: %d of %d (%.1f%%);", agree,
              kDigits, 100 * rate);
  for (int f = 0; f < kFormats; ++f) {
    char name[5];
    std::printf(" %s %d/%d", FourCcName(kLumaFormats[f], name), agree_by_format[f],
                tried_by_format[f]);
  }
  std::printf("\n");
  // MNIST's own centring is re-done from a resampled photo, so a few
  // borderline digits flip; a broken extraction or preprocessing agrees on
  // about 10% (chance).
  CHECK(rate >= 0.88);
  for (int f = 0; f < kFormats; ++f) CHECK(agree_by_format[f] >= tried_by_format[f] * 7 / 10);
}

}  // namespace
}  // namespace edgemlp::firmware
