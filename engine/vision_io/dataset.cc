// See dataset.h.
#include "vision_io/dataset.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "rmsmp/error.h"
#include "vision_io/preprocess.h"

namespace rmsmp::vision {

namespace fs = std::filesystem;

namespace {

bool is_image_name(const fs::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return e == ".jpg" || e == ".jpeg" || e == ".png";
}

// Whole file, gunzipped when it starts with the gzip magic (zlib's gzread passes plain files through).
std::vector<uint8_t> read_maybe_gz(const std::string& path) {
  RMSMP_CHECK(fs::is_regular_file(path), ErrorCode::NotFound, path << ": no such file");
  gzFile f = gzopen(path.c_str(), "rb");
  RMSMP_CHECK(f, ErrorCode::IoError, path << ": cannot open");
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) {
    out.insert(out.end(), buf, buf + n);
    if (out.size() > (size_t(1) << 32)) break;
  }
  int err = 0;
  const char* msg = gzerror(f, &err);
  const std::string emsg = msg ? msg : "";
  gzclose(f);
  RMSMP_CHECK(n >= 0 && (err == Z_OK || err == Z_STREAM_END), ErrorCode::InvalidFile,
              path << ": corrupt or truncated gzip data (" << emsg << ")");
  RMSMP_CHECK(out.size() <= (size_t(1) << 32), ErrorCode::InvalidFile, path << ": larger than 4 GiB");
  return out;
}

uint32_t be32(const std::vector<uint8_t>& b, size_t off) {
  return uint32_t(b[off]) << 24 | uint32_t(b[off + 1]) << 16 | uint32_t(b[off + 2]) << 8 | uint32_t(b[off + 3]);
}

// IDX header: 0 0 type ndim, then ndim big-endian u32 dims. Checks type uint8 (0x08), ndim and size.
std::vector<uint32_t> idx_dims(const std::vector<uint8_t>& b, int ndim, const std::string& path) {
  RMSMP_CHECK(b.size() >= size_t(4 + 4 * ndim), ErrorCode::InvalidFile, path << ": too short for an IDX header");
  RMSMP_CHECK(b[0] == 0 && b[1] == 0 && b[2] == 0x08 && b[3] == ndim, ErrorCode::InvalidFile,
              path << ": not a uint8 IDX file with " << ndim << " dimension(s)");
  std::vector<uint32_t> d;
  uint64_t total = 1;
  for (int i = 0; i < ndim; ++i) {
    d.push_back(be32(b, size_t(4 + 4 * i)));
    total *= d.back();
  }
  RMSMP_CHECK(b.size() == size_t(4 + 4 * ndim) + total, ErrorCode::InvalidFile,
              path << ": holds " << b.size() - size_t(4 + 4 * ndim) << " data bytes, the header says " << total);
  return d;
}

std::vector<float> normalize_hwc(const VisionInfo& info, const uint8_t* p, int64_t pixels, int64_t c) {
  std::vector<float> out(size_t(pixels * c));
  for (int64_t i = 0; i < pixels; ++i)
    for (int64_t k = 0; k < c; ++k)  // (p / 255 - mean) / std in float32, as ToTensor + Normalize
      out[size_t(i * c + k)] =
          (float(p[i * c + k]) / 255.f - info.mean[size_t(k)]) / info.std[size_t(k)];
  return out;
}

}  // namespace

std::vector<std::string> list_images(const std::string& dir) {
  RMSMP_CHECK(fs::is_directory(dir), ErrorCode::NotFound, dir << ": no such folder");
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && is_image_name(e.path())) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<LabeledImage> imagenet_layout(const std::string& dir, const std::string& label_file,
                                          const std::vector<std::string>& class_names) {
  RMSMP_CHECK(fs::is_directory(dir), ErrorCode::NotFound, dir << ": no such folder");
  std::vector<LabeledImage> out;
  if (!label_file.empty()) {
    RMSMP_CHECK(fs::is_regular_file(label_file), ErrorCode::NotFound,
                label_file << ": not a regular file (a label file must be; a FIFO would block)");
    std::ifstream f(label_file);
    RMSMP_CHECK(f, ErrorCode::NotFound, label_file << ": cannot open label file");
    std::string line;
    int64_t ln = 0;
    while (std::getline(f, line)) {
      ++ln;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty() || line[0] == '#') continue;
      std::istringstream ss(line);
      std::string name;
      int64_t label = -1;
      const bool ok = bool(ss >> name >> label) && label >= 0;
      if (!ok && out.empty() && ln == 1) continue;  // a header line ("file<TAB>class_index ...")
      RMSMP_CHECK(ok, ErrorCode::InvalidFile,
                  label_file << ":" << ln << ": expected 'file class_index', got '" << line << "'");
      const std::string path = (fs::path(dir) / name).string();
      RMSMP_CHECK(fs::is_regular_file(path), ErrorCode::NotFound,
                  label_file << ":" << ln << ": " << path << " does not exist");
      out.push_back({path, label});
    }
    RMSMP_CHECK(!out.empty(), ErrorCode::InvalidFile, label_file << ": no labelled images");
    return out;
  }
  std::vector<std::string> classes;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory()) classes.push_back(e.path().filename().string());
  std::sort(classes.begin(), classes.end());
  RMSMP_CHECK(!classes.empty(), ErrorCode::InvalidArgument,
              dir << ": no class subfolders (pass --labels FILE for a flat folder)");
  std::map<std::string, int64_t> index;
  for (size_t i = 0; i < class_names.size(); ++i) index.emplace(class_names[i], int64_t(i));
  for (size_t ci = 0; ci < classes.size(); ++ci) {
    int64_t label = int64_t(ci);
    if (!class_names.empty()) {
      auto it = index.find(classes[ci]);
      RMSMP_CHECK(it != index.end(), ErrorCode::InvalidArgument,
                  dir << "/" << classes[ci] << ": folder name is not a class of the model's label list");
      label = it->second;
    }
    for (const auto& p : list_images((fs::path(dir) / classes[ci]).string())) out.push_back({p, label});
  }
  RMSMP_CHECK(!out.empty(), ErrorCode::InvalidArgument, dir << ": the class subfolders hold no .jpg/.png images");
  return out;
}

IdxImages read_idx_images(const std::string& path) {
  const std::vector<uint8_t> b = read_maybe_gz(path);
  const auto d = idx_dims(b, 3, path);
  IdxImages im;
  im.n = d[0], im.h = d[1], im.w = d[2];
  im.pixels.assign(b.begin() + 16, b.end());
  return im;
}

std::vector<uint8_t> read_idx_labels(const std::string& path) {
  const std::vector<uint8_t> b = read_maybe_gz(path);
  idx_dims(b, 1, path);
  return std::vector<uint8_t>(b.begin() + 8, b.end());
}

std::vector<float> model_input(const VisionInfo& info, const ImageRgb8& img) {
  RMSMP_CHECK(info.channels == 3, ErrorCode::InvalidArgument,
              info.path << ": the model takes " << info.channels << " channel(s); image files give RGB");
  ImageRgb8 x = img;
  if (info.resize > 0) {
    int64_t w, h;
    resize_shorter_side(x.width, x.height, info.resize, &w, &h);
    x = resize_bilinear_pil(x, w, h);
  }
  if (info.crop > 0) x = center_crop(x, info.crop, info.crop);
  RMSMP_CHECK(x.width == info.width && x.height == info.height, ErrorCode::InvalidArgument,
              "image is " << x.width << "x" << x.height << " after the model's transform; the model takes "
                          << info.width << "x" << info.height);
  return normalize_hwc(info, x.pixels.data(), x.width * x.height, 3);
}

std::vector<float> model_input_gray(const VisionInfo& info, const uint8_t* pixels, int64_t h, int64_t w) {
  RMSMP_CHECK(info.channels == 1 && h == info.height && w == info.width, ErrorCode::InvalidArgument,
              info.path << ": the model takes " << info.channels << "x" << info.height << "x" << info.width
                        << ", the IDX images are 1x" << h << "x" << w);
  return normalize_hwc(info, pixels, h * w, 1);
}

}  // namespace rmsmp::vision
