// Binds a CNN graph from a .rmsmp file (format in cnn.h): every value's shape is re-derived from the nodes and
// checked, every conv's layer must be Cout x (kh * kw * Cin / groups), residuals must match their output.
#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

#include "io/model_format.h"
#include "models/cnn.h"
#include "models/cnn_ops.h"
#include "models/row_mixed_binding.h"
#include "rmsmp/error.h"

namespace rmsmp {

bool is_cnn_header(const nlohmann::json& h) {
  return h.contains("architecture") && h["architecture"].is_object() && h["architecture"].value("type", "") == "cnn";
}

namespace {

// Bounds on what a (possibly hostile) header can make the engine allocate: 1 GiB of floats per value.
constexpr int64_t kMaxValueElems = int64_t(1) << 28;

CnnAct parse_act(const std::string& s, const std::string& where) {
  if (s == "none") return CnnAct::None;
  if (s == "relu") return CnnAct::Relu;
  if (s == "relu6") return CnnAct::Relu6;
  RMSMP_FAIL(ErrorCode::InvalidFile, where << ": unknown activation '" << s << "'");
}

void parse_window(const nlohmann::json& j, CnnNode& n) {
  n.kh = j.at("kernel").at(0).get<int64_t>();
  n.kw = j.at("kernel").at(1).get<int64_t>();
  n.sh = j.at("stride").at(0).get<int64_t>();
  n.sw = j.at("stride").at(1).get<int64_t>();
  const auto& p = j.at("pad");
  n.pt = p.at(0).get<int64_t>();
  n.pl = p.at(1).get<int64_t>();
  n.pb = p.at(2).get<int64_t>();
  n.pr = p.at(3).get<int64_t>();
}

CnnGraph::Unpacked unpack_layer(const RowMixedLinear& L, const std::string& where) {
  CnnGraph::Unpacked u;
  bool any_int = false, any_f32 = false;
  for (const RowGroup& g : L.groups) (quant_is_integer(g.kind) ? any_int : any_f32) = true;
  RMSMP_CHECK(!(any_int && any_f32), ErrorCode::Unsupported, where << ": a grouped conv mixes fp32 and integer rows");
  u.integer = !any_f32;
  const int64_t K = L.cols;
  if (u.integer) u.q.resize(size_t(L.rows * K)), u.step.resize(size_t(L.rows));
  else u.f.resize(size_t(L.rows * K));
  int64_t off = 0;
  for (const RowGroup& g : L.groups) {
    const size_t rb = quant_row_bytes(g.kind, K);
    for (int64_t j = 0; j < g.rows; ++j) {
      const int64_t r = L.perm[off + j];
      const uint8_t* row = g.codes + size_t(j) * rb;
      if (u.integer) {
        quant_scheme(g.kind).unpack_row(row, K, u.q.data() + r * K);
        u.step[size_t(r)] = g.steps[j];
      } else {
        const float* wr = reinterpret_cast<const float*>(row);
        std::copy(wr, wr + K, u.f.begin() + r * K);
      }
    }
    off += g.rows;
  }
  return u;
}

}  // namespace

CnnGraph cnn_bind(const ModelFile& f) {
  CnnGraph g;
  const std::string where = f.path();
  RMSMP_CHECK(is_cnn_header(f.header()), ErrorCode::InvalidFile, where << ": not a CNN model file");
  const nlohmann::json& a = f.header()["architecture"];
  try {
    g.name = a.at("name").get<std::string>();
    g.num_classes = a.at("num_classes").get<int64_t>();
    if (a.contains("labels") && a["labels"].is_array()) g.labels = a["labels"].get<std::vector<std::string>>();
    RMSMP_CHECK(g.labels.empty() || int64_t(g.labels.size()) == g.num_classes, ErrorCode::InvalidFile,
                where << ": " << g.labels.size() << " labels for " << g.num_classes << " classes");
    const auto& in = a.at("input");
    g.input.channels = in.at("channels").get<int64_t>();
    g.input.height = in.at("height").get<int64_t>();
    g.input.width = in.at("width").get<int64_t>();
    g.input.resize = in.value("resize", int64_t(0));
    g.input.crop = in.value("crop", int64_t(0));
    g.input.mean = in.at("mean").get<std::vector<float>>();
    g.input.std = in.at("std").get<std::vector<float>>();
    RMSMP_CHECK(g.input.channels > 0 && g.input.height > 0 && g.input.width > 0 &&
                    int64_t(g.input.mean.size()) == g.input.channels && int64_t(g.input.std.size()) == g.input.channels,
                ErrorCode::InvalidFile, where << ": bad input description " << in.dump());
    for (float s : g.input.std)
      RMSMP_CHECK(std::isfinite(s) && s > 0.f, ErrorCode::InvalidFile, where << ": input std must be positive");
    for (const auto& v : a.at("values")) {
      CnnValue cv{v.at("name").get<std::string>(), v.at("h").get<int64_t>(), v.at("w").get<int64_t>(),
                  v.at("c").get<int64_t>()};
      RMSMP_CHECK(cv.h > 0 && cv.w > 0 && cv.c > 0 && cv.h <= 1 << 16 && cv.w <= 1 << 16 && cv.c <= 1 << 20 &&
                      cv.size() <= kMaxValueElems,
                  ErrorCode::InvalidFile, where << ": value '" << cv.name << "' has a bad shape " << cv.h << "x" << cv.w
                                                << "x" << cv.c << " (at most 2^28 elements)");
      g.values.push_back(cv);
    }
    const int nv = int(g.values.size());
    RMSMP_CHECK(nv >= 2, ErrorCode::InvalidFile, where << ": graph has no values");
    const CnnValue& v0 = g.values[0];
    RMSMP_CHECK(v0.h == g.input.height && v0.w == g.input.width && v0.c == g.input.channels, ErrorCode::InvalidFile,
                where << ": value 0 must be the input image");
    std::vector<char> defined(size_t(nv), 0);
    defined[0] = 1;
    g.last_use.assign(size_t(nv), -1);
    for (const auto& nj : a.at("nodes")) {
      CnnNode n;
      const std::string op = nj.at("op").get<std::string>();
      const std::string nw = where + ": node " + std::to_string(g.nodes.size()) + " (" + op + ")";
      n.in = nj.at("in").get<int>();
      n.out = nj.at("out").get<int>();
      RMSMP_CHECK(n.in >= 0 && n.in < nv && defined[size_t(n.in)], ErrorCode::InvalidFile,
                  nw << ": input " << n.in << " is not defined before it");
      RMSMP_CHECK(n.out > 0 && n.out < nv && !defined[size_t(n.out)], ErrorCode::InvalidFile,
                  nw << ": output " << n.out << " is out of range or written twice");
      const CnnValue &vi = g.values[size_t(n.in)], &vo = g.values[size_t(n.out)];
      if (op == "conv" || op == "maxpool" || op == "avgpool") {
        parse_window(nj, n);
        RMSMP_CHECK(n.kh > 0 && n.kw > 0 && n.sh > 0 && n.sw > 0 && n.pt >= 0 && n.pl >= 0 && n.pb >= 0 && n.pr >= 0 &&
                        n.pt < n.kh && n.pb < n.kh && n.pl < n.kw && n.pr < n.kw,
                    ErrorCode::InvalidFile, nw << ": bad kernel/stride/padding");
        const int64_t oh = cnn_out_dim(vi.h, n.kh, n.sh, n.pt, n.pb), ow = cnn_out_dim(vi.w, n.kw, n.sw, n.pl, n.pr);
        RMSMP_CHECK(oh == vo.h && ow == vo.w, ErrorCode::InvalidFile,
                    nw << ": output is " << vo.h << "x" << vo.w << " but the window gives " << oh << "x" << ow);
      }
      if (op == "conv") {
        n.op = CnnNode::Op::Conv;
        n.groups = nj.at("groups").get<int64_t>();
        n.act = parse_act(nj.at("act").get<std::string>(), nw);
        n.residual = nj.at("residual").get<int>();
        RMSMP_CHECK(n.groups > 0 && vi.c % n.groups == 0 && vo.c % n.groups == 0, ErrorCode::InvalidFile,
                    nw << ": groups " << n.groups << " must divide " << vi.c << " and " << vo.c);
        if (n.residual >= 0) {
          RMSMP_CHECK(n.residual < nv && defined[size_t(n.residual)], ErrorCode::InvalidFile,
                      nw << ": residual " << n.residual << " is not defined before it");
          const CnnValue& vr = g.values[size_t(n.residual)];
          RMSMP_CHECK(vr.h == vo.h && vr.w == vo.w && vr.c == vo.c, ErrorCode::InvalidFile,
                      nw << ": residual shape differs from the output");
          g.last_use[size_t(n.residual)] = int(g.nodes.size());
        }
        const std::string lname = nj.at("layer").get<std::string>();
        RMSMP_CHECK(vo.h * vo.w * n.kh * n.kw * (vi.c / n.groups) <= kMaxValueElems * 4, ErrorCode::InvalidFile,
                    nw << ": its im2col patches would exceed 2^30 values");
        g.layers.push_back(bind_row_mixed_linear(f, lname, vo.c, n.kh * n.kw * (vi.c / n.groups)));
        RMSMP_CHECK(!g.layers.back().act.dynamic || g.layers.back().act.per_tensor, ErrorCode::InvalidFile,
                    nw << ": a conv's activations are quantized per tensor (dynamic_tensor or static)");
        n.layer = int(g.layers.size()) - 1;
        g.unpacked.emplace_back();
        if (n.groups > 1) {
          CnnGraph::Unpacked& u = g.unpacked.back();
          u = unpack_layer(g.layers.back(), nw);
          if (n.groups == vi.c && n.groups == vo.c && n.kh * n.kw <= CnnGraph::kMaxTapMajorTaps) {  // depthwise: [c][tap] -> [tap][c]
            const int64_t taps = n.kh * n.kw, C = vo.c;
            std::vector<int8_t> qt(u.q.size());
            std::vector<float> ft(u.f.size());
            for (int64_t c = 0; c < C; ++c)
              for (int64_t t = 0; t < taps; ++t) {
                if (u.integer) qt[size_t(t * C + c)] = u.q[size_t(c * taps + t)];
                else ft[size_t(t * C + c)] = u.f[size_t(c * taps + t)];
              }
            u.q.swap(qt);
            u.f.swap(ft);
            u.tap_major = true;
          }
        }
      } else if (op == "maxpool" || op == "avgpool") {
        n.op = op == "maxpool" ? CnnNode::Op::MaxPool : CnnNode::Op::AvgPool;
        RMSMP_CHECK(vo.c == vi.c, ErrorCode::InvalidFile, nw << ": channels change");
      } else if (op == "global_avgpool") {
        n.op = CnnNode::Op::GlobalAvgPool;
        RMSMP_CHECK(vo.h == 1 && vo.w == 1 && vo.c == vi.c, ErrorCode::InvalidFile, nw << ": output must be 1x1xC");
      } else {
        RMSMP_FAIL(ErrorCode::Unsupported, nw << ": unknown op");
      }
      g.last_use[size_t(n.in)] = int(g.nodes.size());
      defined[size_t(n.out)] = 1;
      g.nodes.push_back(n);
    }
    g.output = a.at("output").get<int>();
    RMSMP_CHECK(g.output > 0 && g.output < nv && defined[size_t(g.output)], ErrorCode::InvalidFile,
                where << ": output value is not computed");
    const CnnValue& vo = g.values[size_t(g.output)];
    RMSMP_CHECK(vo.h == 1 && vo.w == 1 && vo.c == g.num_classes, ErrorCode::InvalidFile,
                where << ": output is " << vo.h << "x" << vo.w << "x" << vo.c << ", expected 1x1x" << g.num_classes);
  } catch (const nlohmann::json::exception& e) {
    RMSMP_FAIL(ErrorCode::InvalidFile, where << ": malformed CNN architecture: " << e.what());
  }
  return g;
}

}  // namespace rmsmp
