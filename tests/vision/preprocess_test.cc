// Image decoding and torchvision's ImageNet eval transform against Pillow (tests/data/images/goldens.json, made
// by converters/goldens/make_image_goldens.py) on the real photos in data/images: decoded pixels, the resized
// and cropped uint8 images byte for byte, and the normalized float32 tensor bit for bit.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/hash.h"
#include "rmsmp/error.h"
#include "util/test_env.h"
#include "vision_io/image.h"
#include "vision_io/preprocess.h"

namespace rmsmp::vision {
namespace {

const nlohmann::json& golden() {
  static const nlohmann::json g = [] {
    std::ifstream f(test::data_dir() + "/images/goldens.json");
    return nlohmann::json::parse(f);
  }();
  return g;
}

std::string sha(const void* p, size_t n) {
  Sha256 h;
  h.update(p, n);
  return h.hex_digest();
}

std::string image_path(const std::string& name) {
  return name.find(".jpg") != std::string::npos ? test::data_dir() + "/images/" + name
                                                 : test::data_dir() + "/../../data/images/" + name;
}

TEST(Vision, PngPhotosMatchPillowAndTorchvisionExactly) {
  for (const char* name : {"chelsea.png", "coffee.png"}) {
    const auto& g = golden()["images"][name];
    const ImageRgb8 img = load_image(image_path(name));
    ASSERT_EQ(img.width, g["width"].get<int64_t>());
    ASSERT_EQ(img.height, g["height"].get<int64_t>());
    EXPECT_EQ(sha(img.pixels.data(), img.pixels.size()), g["decoded_sha256"]) << name;
    int64_t w = 0, h = 0;
    resize_shorter_side(img.width, img.height, 256, &w, &h);
    EXPECT_EQ(w, g["resized"][0].get<int64_t>());
    EXPECT_EQ(h, g["resized"][1].get<int64_t>());
    const ImageRgb8 r = resize_bilinear_pil(img, w, h);
    EXPECT_EQ(sha(r.pixels.data(), r.pixels.size()), g["resized_sha256"]) << name << ": PIL bilinear resize";
    const ImageRgb8 c = center_crop(r, 224, 224);
    EXPECT_EQ(sha(c.pixels.data(), c.pixels.size()), g["crop_sha256"]) << name;
    const std::vector<float> t = imagenet_eval_transform(img);
    ASSERT_EQ(t.size(), 3u * 224 * 224);
    EXPECT_EQ(sha(t.data(), t.size() * 4), g["tensor_sha256"]) << name << ": normalized tensor";
    for (const auto& [idx, v] : g["samples"].items()) EXPECT_EQ(t[std::stoul(idx)], v.get<float>()) << name << " " << idx;
  }
}

TEST(Vision, JpegDecodesLikePillow) {
  const auto& g = golden()["images"]["chelsea_q90.jpg"];
  const ImageRgb8 img = load_image(image_path("chelsea_q90.jpg"));
  ASSERT_EQ(img.width, 451);
  ASSERT_EQ(img.height, 300);
  // Debian's libjpeg-turbo and Pillow's bundled one use the same default decoder (islow IDCT, fancy upsampling).
  int64_t sums[3] = {0, 0, 0};
  for (size_t i = 0; i < img.pixels.size(); ++i) sums[i % 3] += img.pixels[i];
  for (int c = 0; c < 3; ++c) EXPECT_EQ(sums[c], g["decoded_channel_sums"][c].get<int64_t>()) << "channel " << c;
  EXPECT_EQ(sha(img.pixels.data(), img.pixels.size()), g["decoded_sha256"]);
  const std::vector<float> t = imagenet_eval_transform(img);
  EXPECT_EQ(sha(t.data(), t.size() * 4), g["tensor_sha256"]);
}

TEST(Vision, BadImagesNameTheFileAndProblem) {
  auto err = [](const std::string& path) -> std::string {
    try {
      load_image(path);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  const std::string dir = test::temp_dir();
  EXPECT_NE(err(dir + "/none.png").find("none.png: cannot open"), std::string::npos);
  // A FIFO (fopen on it blocked until a writer came) and a folder are refused by name, at once.
  const std::string fifo = dir + "/photo_fifo.jpg";
  std::remove(fifo.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_NE(err(fifo).find(fifo + ": not a regular file (a FIFO)"), std::string::npos) << err(fifo);
  std::remove(fifo.c_str());
  EXPECT_NE(err(dir).find(dir + ": not a regular file"), std::string::npos) << err(dir);
  std::ofstream(dir + "/text.png") << "not an image";
  EXPECT_NE(err(dir + "/text.png").find("not a PNG or JPEG"), std::string::npos);
  std::ifstream src(image_path("chelsea.png"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(src)), {});
  std::ofstream(dir + "/cut.png", std::ios::binary) << bytes.substr(0, bytes.size() / 3);
  EXPECT_NE(err(dir + "/cut.png").find("cut.png: PNG:"), std::string::npos) << err(dir + "/cut.png");
  std::ifstream js(image_path("chelsea_q90.jpg"), std::ios::binary);
  std::string jb((std::istreambuf_iterator<char>(js)), {});
  std::ofstream(dir + "/cut.jpg", std::ios::binary) << jb.substr(0, 600);
  EXPECT_NE(err(dir + "/cut.jpg").find("cut.jpg: JPEG:"), std::string::npos) << err(dir + "/cut.jpg");
  // Truncated anywhere, even 1% short: libjpeg's "premature end" is a warning, which we refuse (issue 22).
  for (int pct : {5, 30, 60, 90, 99}) {
    const std::string cut = dir + "/cut" + std::to_string(pct) + ".jpg";
    std::ofstream(cut, std::ios::binary) << jb.substr(0, jb.size() * size_t(pct) / 100);
    EXPECT_NE(err(cut).find(cut + ": JPEG:"), std::string::npos) << pct << "%: " << err(cut);
  }
  EXPECT_THROW(load_image(image_path("chelsea.png"), 1000), Error);  // pixel limit
  const ImageRgb8 img = load_image(image_path("chelsea.png"));
  EXPECT_THROW(center_crop(img, 500, 10), Error);
  // Aspect-ratio amplification: 1 x 40,000 resized to a shorter side of 256 would be 2.6 G pixels.
  int64_t w = 0, h = 0;
  try {
    resize_shorter_side(40000, 1, 256, &w, &h);
    ADD_FAILURE() << "a 40000x1 resize to 256 was accepted: " << w << "x" << h;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("aspect ratio too extreme"), std::string::npos) << e.what();
  }
  resize_shorter_side(451, 300, 256, &w, &h);  // an ordinary photo still resizes
  EXPECT_EQ(h, 256);
}

}  // namespace
}  // namespace rmsmp::vision
