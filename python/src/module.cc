// _rmsmp: the Python package's native module, a thin layer over rmsmp's public C++ API (rmsmp/context.h,
// rmsmp/vision.h) and the converter's command (apps/convert_command.h). Batching, sorting and the numpy-facing
// conveniences live in rmsmp/__init__.py. The GIL is released while the engine tokenizes and computes; a Model
// is immutable, and each call leases a Context of its own (kept in a pool for the next call), so Python
// threads may share one Model.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "convert_command.h"
#include "rmsmp/context.h"
#include "rmsmp/error.h"
#include "rmsmp/vision.h"
#include "vision_io/dataset.h"
#include "vision_io/image.h"

namespace py = pybind11;
using namespace rmsmp;

namespace {

// Rows of equal length as a C-contiguous float32 array (n x width; n may be 0).
py::array_t<float> to_array(const std::vector<std::vector<float>>& rows, int64_t width) {
  py::array_t<float> out({py::ssize_t(rows.size()), py::ssize_t(width)});
  float* p = out.mutable_data();
  for (const auto& r : rows) {
    std::memcpy(p, r.data(), r.size() * sizeof(float));
    p += r.size();
  }
  return out;
}

LoadOptions load_options(const std::string& device) {
  LoadOptions o;
  o.backend = device;
  return o;
}

class PyModel {
 public:
  PyModel(const std::string& path, const std::string& device, int threads) {
    py::gil_scoped_release nogil;
    model_ = Model::load(path, load_options(device));
    ContextOptions co;
    co.threads = threads;
    Context check(model_, co);  // validates threads now, not at the first call
    threads_ = threads;
  }

  py::dict info() const {
    const ModelInfo& i = model_->info();
    py::dict d;
    d["path"] = i.path, d["scheme"] = i.scheme, d["avg_weight_bits"] = i.avg_weight_bits, d["file_bytes"] = i.file_bytes;
    d["hidden_size"] = i.hidden_size, d["embedding_size"] = i.embedding_size, d["max_seq_length"] = i.max_seq_length, d["vocab_size"] = i.vocab_size;
    d["pooling"] = i.pooling, d["normalize"] = i.normalize, d["backend"] = i.backend, d["num_labels"] = i.num_labels;
    d["labels"] = i.labels, d["regression"] = i.regression;
    return d;
  }

  // Embeddings of texts in the given order (one batch), or with pairs the head's logits.
  py::array_t<float> embed(const std::vector<std::string>& texts, std::optional<bool> normalize, bool truncate) const {
    std::vector<std::vector<float>> rows;
    {
      py::gil_scoped_release nogil;
      Lease ctx(*this, truncate);
      EmbedOptions eo;
      eo.normalize = normalize;
      rows = ctx->embed_texts(texts, eo);
    }
    return to_array(rows, model_->info().embedding_size);
  }

  py::array_t<float> predict(const std::vector<std::string>& texts, const std::vector<std::optional<std::string>>& pairs,
                             bool truncate) const {
    std::vector<std::vector<float>> rows;
    {
      py::gil_scoped_release nogil;
      Lease ctx(*this, truncate);
      std::vector<Tokenized> batch;
      for (size_t i = 0; i < texts.size(); ++i) {
        try {
          batch.push_back(i < pairs.size() && pairs[i] ? ctx->tokenize(texts[i], std::string_view(*pairs[i]))
                                                       : ctx->tokenize(texts[i]));
        } catch (const Error& e) {
          throw Error(e.code(), "item " + std::to_string(i) + ": " + e.what());
        }
      }
      rows = ctx->classify(batch);
    }
    return to_array(rows, model_->info().num_labels);
  }

  // ids and token types the model sees ([CLS]/[SEP], truncated as the model truncates), and whether it cut.
  py::tuple tokenize(const std::string& text, std::optional<std::string> pair) const {
    Tokenized t;
    {
      py::gil_scoped_release nogil;
      t = pair ? model_->tokenize(text, std::string_view(*pair)) : model_->tokenize(text);
    }
    return py::make_tuple(t.ids, t.type_ids, t.truncated);
  }

  std::string token_piece(int32_t id) const { return model_->token_piece(id); }

 private:
  ContextOptions options(bool truncate) const {
    ContextOptions co;
    co.threads = threads_;
    co.truncation = truncate ? Truncation::Truncate : Truncation::Error;
    return co;
  }
  // Contexts are reused across calls (their activation buffers stay allocated: a fresh one per call cost 14% of
  // encode's time on SST-2 dev) but never shared: a call takes one from the pool, or makes one, and puts it back.
  class Lease {
   public:
    Lease(const PyModel& m, bool truncate) : m_(m), truncate_(truncate) {
      std::lock_guard<std::mutex> l(m_.pool_mu_);
      auto& pool = m_.pool_[truncate_];
      if (!pool.empty()) ctx_ = std::move(pool.back()), pool.pop_back();
      else ctx_ = std::make_unique<Context>(m_.model_, m_.options(truncate_));
    }
    ~Lease() {
      std::lock_guard<std::mutex> l(m_.pool_mu_);
      m_.pool_[truncate_].push_back(std::move(ctx_));
    }
    Context* operator->() { return ctx_.get(); }

   private:
    const PyModel& m_;
    bool truncate_;
    std::unique_ptr<Context> ctx_;
  };
  std::shared_ptr<const Model> model_;
  int threads_ = 0;
  mutable std::mutex pool_mu_;
  mutable std::vector<std::unique_ptr<Context>> pool_[2];  // idle Contexts, by truncation policy
};

class PyVisionModel {
 public:
  PyVisionModel(const std::string& path, const std::string& device) {
    py::gil_scoped_release nogil;
    model_ = VisionModel::load(path, load_options(device));
  }

  py::dict info() const {
    const VisionInfo& i = model_->info();
    py::dict d;
    d["path"] = i.path, d["name"] = i.name, d["scheme"] = i.scheme, d["avg_weight_bits"] = i.avg_weight_bits;
    d["act_bits"] = i.act_bits, d["file_bytes"] = i.file_bytes, d["backend"] = i.backend;
    d["num_classes"] = i.num_classes, d["labels"] = i.labels, d["channels"] = i.channels;
    d["height"] = i.height, d["width"] = i.width, d["resize"] = i.resize, d["crop"] = i.crop;
    d["mean"] = i.mean, d["std"] = i.std, d["gmacs"] = i.gmacs;
    return d;
  }

  // Logits of an image file (decoded and transformed as rmsmp-run classify does).
  py::array_t<float> logits_file(const std::string& path) const {
    std::vector<float> l;
    {
      py::gil_scoped_release nogil;
      std::vector<float> x;
      try {
        x = vision::model_input(model_->info(), vision::load_image(path));
      } catch (const Error& e) {
        if (std::string(e.what()).find(path) != std::string::npos) throw;
        throw Error(e.code() == ErrorCode::InvalidArgument ? ErrorCode::InvalidFile : e.code(), path + ": " + e.what());
      }
      l = model_->logits(x.data(), int64_t(x.size()));
    }
    return to_array({l}, int64_t(l.size()));
  }

  // Logits of an RGB image given as uint8 height x width x 3 (any size: the model's eval transform applies).
  py::array_t<float> logits_rgb(py::array_t<uint8_t, py::array::c_style | py::array::forcecast> img) const {
    RMSMP_CHECK(img.ndim() == 3 && img.shape(2) == 3 && img.shape(0) > 0 && img.shape(1) > 0, ErrorCode::InvalidArgument,
                "an image array must be uint8 of shape (height, width, 3)");
    vision::ImageRgb8 rgb;
    rgb.height = img.shape(0), rgb.width = img.shape(1);
    rgb.pixels.assign(img.data(), img.data() + img.size());
    std::vector<float> l;
    {
      py::gil_scoped_release nogil;
      const std::vector<float> x = vision::model_input(model_->info(), rgb);
      l = model_->logits(x.data(), int64_t(x.size()));
    }
    return to_array({l}, int64_t(l.size()));
  }

 private:
  std::shared_ptr<const VisionModel> model_;
};

// rmsmp-convert with these arguments (as on its command line, without the program name); the report as JSON.
std::string convert(const std::vector<std::string>& args) {
  py::gil_scoped_release nogil;
  std::vector<std::string> a = {"rmsmp.convert"};
  a.insert(a.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : a) argv.push_back(s.data());
  argv.push_back(nullptr);
  return convert_command(int(a.size()), argv.data()).dump();
}

}  // namespace

PYBIND11_MODULE(_rmsmp, m) {
  m.doc() = "rmsmp's native module (use the rmsmp package)";
  m.attr("__version__") = RMSMP_VERSION;
  // rmsmp.Error carries the engine's code name (InvalidArgument, InvalidFile, NotFound, ...) in .code. The type
  // lives as long as the process (a module is never unloaded), so the translator keeps a plain pointer to it.
  static PyObject* error_type = PyErr_NewException("rmsmp._rmsmp.Error", PyExc_RuntimeError, nullptr);
  m.attr("Error") = py::handle(error_type);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      py::object inst = py::reinterpret_steal<py::object>(PyObject_CallFunction(error_type, "s", e.what()));
      if (!inst) return;  // a Python error is set already
      inst.attr("code") = error_code_name(e.code());
      PyErr_SetObject(error_type, inst.ptr());
    }
  });
  py::class_<PyModel>(m, "Model")
      .def(py::init<const std::string&, const std::string&, int>(), py::arg("path"), py::arg("device") = "cpu",
           py::arg("threads") = 0)
      .def_property_readonly("info", &PyModel::info)
      .def("embed", &PyModel::embed, py::arg("texts"), py::arg("normalize") = py::none(), py::arg("truncate") = true)
      .def("predict", &PyModel::predict, py::arg("texts"), py::arg("pairs"), py::arg("truncate") = true)
      .def("tokenize", &PyModel::tokenize, py::arg("text"), py::arg("pair") = py::none())
      .def("token_piece", &PyModel::token_piece, py::arg("id"));
  py::class_<PyVisionModel>(m, "VisionModel")
      .def(py::init<const std::string&, const std::string&>(), py::arg("path"), py::arg("device") = "cpu")
      .def_property_readonly("info", &PyVisionModel::info)
      .def("logits_file", &PyVisionModel::logits_file, py::arg("path"))
      .def("logits_rgb", &PyVisionModel::logits_rgb, py::arg("image"));
  m.def("convert", &convert, py::arg("args"));
}
