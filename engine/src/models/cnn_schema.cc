// See cnn_schema.h; the format is documented in cnn.h.
#include "models/cnn_schema.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "models/cnn_ops.h"
#include "rmsmp/error.h"

namespace rmsmp {

namespace {

// Bounds on what a (possibly hostile) header can make the engine allocate: 1 GiB of floats per value.
constexpr int64_t kMaxValueElems = int64_t(1) << 28;

const char* act_name(CnnAct a) {
  switch (a) {
    case CnnAct::None: return "none";
    case CnnAct::Relu: return "relu";
    case CnnAct::Relu6: return "relu6";
  }
  return "none";
}

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

}  // namespace

nlohmann::json cnn_schema_to_json(const CnnSchema& s) {
  nlohmann::json values = nlohmann::json::array(), nodes = nlohmann::json::array();
  for (const CnnValue& v : s.values) values.push_back({{"name", v.name}, {"h", v.h}, {"w", v.w}, {"c", v.c}});
  for (const CnnNode& n : s.nodes) {
    nlohmann::json j = {{"in", n.in}, {"out", n.out}};
    if (n.op == CnnNode::Op::GlobalAvgPool) {
      j["op"] = "global_avgpool";
    } else {
      j["kernel"] = {n.kh, n.kw};
      j["stride"] = {n.sh, n.sw};
      j["pad"] = {n.pt, n.pl, n.pb, n.pr};
      if (n.op == CnnNode::Op::Conv) {
        j["op"] = "conv";
        j["layer"] = s.layer_names.at(size_t(n.layer));
        j["residual"] = n.residual;
        j["groups"] = n.groups;
        j["act"] = act_name(n.act);
      } else {
        j["op"] = n.op == CnnNode::Op::MaxPool ? "maxpool" : "avgpool";
      }
    }
    nodes.push_back(std::move(j));
  }
  nlohmann::json a = {{"type", "cnn"}, {"name", s.name}, {"num_classes", s.num_classes}, {"values", values},
                      {"nodes", nodes}, {"output", s.output}};
  a["labels"] = s.labels.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.labels);
  a["input"] = {{"channels", s.input.channels}, {"height", s.input.height}, {"width", s.input.width},
                {"resize", s.input.resize}, {"crop", s.input.crop}, {"mean", s.input.mean}, {"std", s.input.std},
                {"note", s.input_note}};
  return a;
}

CnnSchema cnn_schema_from_json(const nlohmann::json& a, const std::string& where) {
  CnnSchema g;
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
    g.input_note = in.value("note", std::string());
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
        }
        RMSMP_CHECK(vo.h * vo.w * n.kh * n.kw * (vi.c / n.groups) <= kMaxValueElems * 4, ErrorCode::InvalidFile,
                    nw << ": its im2col patches would exceed 2^30 values");
        g.layer_names.push_back(nj.at("layer").get<std::string>());
        n.layer = int(g.layer_names.size()) - 1;
      } else if (op == "maxpool" || op == "avgpool") {
        n.op = op == "maxpool" ? CnnNode::Op::MaxPool : CnnNode::Op::AvgPool;
        RMSMP_CHECK(vo.c == vi.c, ErrorCode::InvalidFile, nw << ": channels change");
      } else if (op == "global_avgpool") {
        n.op = CnnNode::Op::GlobalAvgPool;
        RMSMP_CHECK(vo.h == 1 && vo.w == 1 && vo.c == vi.c, ErrorCode::InvalidFile, nw << ": output must be 1x1xC");
      } else {
        RMSMP_FAIL(ErrorCode::Unsupported, nw << ": unknown op");
      }
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
