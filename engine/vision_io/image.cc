// PNG and JPEG decoding (see image.h). Both libraries report errors through longjmp; each decoder keeps only
// trivially destructible state between setjmp and the library calls, and converts the failure to an Error.
#include "vision_io/image.h"

#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>

#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "core/mapped_file.h"
#include "rmsmp/error.h"

namespace rmsmp::vision {

namespace {

struct FileCloser {
  void operator()(FILE* f) const {
    if (f) std::fclose(f);
  }
};
using FilePtr = std::unique_ptr<FILE, FileCloser>;

void check_size(const std::string& path, int64_t w, int64_t h, int64_t max_pixels) {
  RMSMP_CHECK(w > 0 && h > 0, ErrorCode::InvalidFile, path << ": image has no pixels (" << w << "x" << h << ")");
  RMSMP_CHECK(w <= max_pixels / h, ErrorCode::InvalidFile,
              path << ": image of " << w << "x" << h << " pixels exceeds the limit of " << max_pixels);
}

// Frees libpng's reader on every exit: normal return, a thrown Error (checks below), or the longjmp from a
// libpng error (which lands inside the guard's scope, so the guard is still alive when we throw).
struct PngReader {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngReader() {
    if (png) png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
  }
};

ImageRgb8 load_png(const std::string& path, FILE* f, int64_t max_pixels) {
  PngReader r;
  r.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  RMSMP_CHECK(r.png, ErrorCode::Internal, "libpng: cannot create a reader");
  r.info = png_create_info_struct(r.png);
  RMSMP_CHECK(r.info, ErrorCode::Internal, "libpng: cannot create an info struct");
  png_structp png = r.png;
  png_infop info = r.info;
  ImageRgb8 img;
  std::vector<png_bytep> rows;
  char msg[256] = "corrupt PNG data";
  png_set_error_fn(png, msg, [](png_structp p, png_const_charp m) {
    std::snprintf(static_cast<char*>(png_get_error_ptr(p)), 256, "%s", m);
    longjmp(png_jmpbuf(p), 1);
  }, [](png_structp, png_const_charp) {});
  if (setjmp(png_jmpbuf(png))) RMSMP_FAIL(ErrorCode::InvalidFile, path << ": PNG: " << msg);
  png_init_io(png, f);
  png_read_info(png, info);
  const int64_t w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  check_size(path, w, h, max_pixels);
  const int color = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
  if (depth == 16) png_set_strip_16(png);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
  if (color & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png), png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  RMSMP_CHECK(png_get_rowbytes(png, info) == size_t(w) * 3, ErrorCode::Unsupported, path << ": PNG layout not convertible to RGB8");
  img.width = w, img.height = h;
  img.pixels.resize(size_t(w * h * 3));
  rows.resize(size_t(h));
  for (int64_t y = 0; y < h; ++y) rows[size_t(y)] = img.pixels.data() + y * w * 3;
  png_read_image(png, rows.data());
  png_read_end(png, nullptr);
  return img;
}

struct JpegError {
  jpeg_error_mgr mgr;
  jmp_buf jump;
  char msg[JMSG_LENGTH_MAX];
};

struct JpegReader {
  jpeg_decompress_struct cinfo;
  bool created = false;
  ~JpegReader() {
    if (created) jpeg_destroy_decompress(&cinfo);
  }
};

ImageRgb8 load_jpeg(const std::string& path, FILE* f, int64_t max_pixels) {
  JpegReader r;  // destroyed on every exit, as PngReader
  jpeg_decompress_struct& cinfo = r.cinfo;
  JpegError err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = [](j_common_ptr c) {
    JpegError* e = reinterpret_cast<JpegError*>(c->err);
    (*c->err->format_message)(c, e->msg);
    longjmp(e->jump, 1);
  };
  err.mgr.output_message = [](j_common_ptr) {};
  // Warnings (level -1) are how libjpeg reports truncated or corrupt data ("Premature end of JPEG file"): it
  // fills the rest with grey and carries on. Keep the first one's text; the image is refused after decoding.
  err.mgr.emit_message = [](j_common_ptr c, int level) {
    if (level >= 0) return;
    JpegError* e = reinterpret_cast<JpegError*>(c->err);
    if (c->err->num_warnings++ == 0) (*c->err->format_message)(c, e->msg);
  };
  ImageRgb8 img;
  if (setjmp(err.jump)) RMSMP_FAIL(ErrorCode::InvalidFile, path << ": JPEG: " << err.msg);
  jpeg_create_decompress(&cinfo);
  r.created = true;
  jpeg_stdio_src(&cinfo, f);
  jpeg_read_header(&cinfo, TRUE);
  RMSMP_CHECK(cinfo.jpeg_color_space != JCS_CMYK && cinfo.jpeg_color_space != JCS_YCCK, ErrorCode::Unsupported,
              path << ": CMYK JPEG (convert it to RGB first)");
  cinfo.out_color_space = JCS_RGB;  // libjpeg's defaults otherwise (ISLOW DCT, fancy upsampling), as PIL uses
  check_size(path, cinfo.image_width, cinfo.image_height, max_pixels);
  jpeg_start_decompress(&cinfo);
  img.width = cinfo.output_width, img.height = cinfo.output_height;
  img.pixels.resize(size_t(img.width * img.height * 3));
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = img.pixels.data() + size_t(cinfo.output_scanline) * size_t(img.width) * 3;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  RMSMP_CHECK(err.mgr.num_warnings == 0, ErrorCode::InvalidFile, path << ": JPEG: truncated or corrupt data (" << err.msg << ")");
  return img;
}

}  // namespace

ImageRgb8 load_image(const std::string& path, int64_t max_pixels) {
  const int fd = open_regular_file(path);  // a FIFO or a folder is refused here instead of blocking a read
  FilePtr f(::fdopen(fd, "rb"));
  if (!f) ::close(fd);
  RMSMP_CHECK(f, ErrorCode::IoError, path << ": cannot open (" << std::strerror(errno) << ")");
  unsigned char magic[8] = {0};
  const size_t n = std::fread(magic, 1, 8, f.get());
  std::rewind(f.get());
  static const unsigned char kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (n == 8 && std::memcmp(magic, kPng, 8) == 0) return load_png(path, f.get(), max_pixels);
  if (n >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF) return load_jpeg(path, f.get(), max_pixels);
  RMSMP_FAIL(ErrorCode::Unsupported, path << ": not a PNG or JPEG file");
  return {};
}

}  // namespace rmsmp::vision
