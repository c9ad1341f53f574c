// OpenClBackend: uploads, kernel launches and downloads for each Backend op.
#include "backends/opencl/opencl_backend.h"

#include <cstring>
#include <vector>

#include "rmsmp/error.h"

namespace rmsmp {

namespace {
enum Slot { kX, kXq, kXstep, kY, kRes, kQ, kK, kV, kP, kRelBias, kAcc0 };

// The kernels of each scheme's rows (opencl_kernels/): the NDRange kernel, and in the FPGA style the core that
// accumulates them, its queue (the LUT core on queue 1 beside the DSP core on queue 0) and whether it takes the
// row's QuantKind value as its `kind` argument (fpga_fixed_core decodes fixed8 and fixed4 by it). fp32 rows run the NDRange kernel in both styles. A
// scheme of the table that is missing here is refused at load (unsupported), never run by another's kernel.
struct ClKernels {
  QuantKind kind;
  const char* ndrange;
  const char* fpga_core;  // null: the NDRange kernel in the FPGA style too
  int fpga_queue;
  bool fpga_kind_arg;
};
constexpr ClKernels kClKernels[] = {
    {QuantKind::F32, "gemm_f32", nullptr, 0, false},
    {QuantKind::Fixed8, "gemm_fixed8", "fpga_fixed_core", 0, true},
    {QuantKind::Fixed4, "gemm_fixed4", "fpga_fixed_core", 0, true},
    {QuantKind::Pow2x4, "gemm_pot4", "fpga_pot4_core", 1, false},
};
const ClKernels* cl_kernels(QuantKind kind) {
  for (const ClKernels& k : kClKernels)
    if (k.kind == kind) return &k;
  return nullptr;
}
// A layer's arrays on the device (OpenClBackend::prepare), in the order of its groups.
struct OpenClPreparedLinear : PreparedLinear {
  const void* owner = nullptr;  // the backend whose context holds the buffers (another's layout is ignored)
  ocl::Buffer bias;             // empty when the layer has none
  struct Group {
    ocl::Buffer codes, steps, perm;  // steps empty for fp32 rows
  };
  std::vector<Group> groups;
};
}  // namespace

std::shared_ptr<const PreparedLinear> OpenClBackend::prepare(const RowMixedLinear& w) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto p = std::make_shared<OpenClPreparedLinear>();
  p->owner = this;
  auto upload = [&](const void* host, size_t bytes) {
    ocl::Buffer b(rt_.context(), bytes < 4 ? 4 : bytes);
    if (bytes > 0) rt_.write(b, host, bytes);
    return b;
  };
  if (w.bias) p->bias = upload(w.bias, size_t(w.rows) * sizeof(float));
  int64_t off = 0;
  for (const RowGroup& g : w.groups) {
    OpenClPreparedLinear::Group d;
    d.codes = upload(g.codes, size_t(g.rows) * quant_row_bytes(g.kind, w.cols));
    if (quant_is_integer(g.kind)) d.steps = upload(g.steps, size_t(g.rows) * sizeof(float));
    d.perm = upload(w.perm + off, size_t(g.rows) * sizeof(int32_t));
    p->groups.push_back(std::move(d));
    off += g.rows;
  }
  ocl::check(clFinish(rt_.queue(0)), "clFinish");  // the host arrays may be released after this returns
  return p;
}

std::string OpenClBackend::unsupported(const RowMixedLinear& w) const {
  for (const RowGroup& g : w.groups)
    if (g.rows > 0 && !cl_kernels(g.kind))
      return name_ + " has no kernel for " + (size_t(g.kind) < size_t(QuantKind::Count)
                                                   ? "scheme '" + std::string(quant_scheme(g.kind).name) + "'"
                                                   : "scheme number " + std::to_string(int(g.kind))) +
             " rows";
  return {};
}

std::string OpenClBackend::kernel_name(const RowMixedLinear& w, const RowGroup& g) const {
  (void)w;
  const ClKernels* k = cl_kernels(g.kind);
  if (!k) return "none";
  return fpga_ && k->fpga_core ? std::string(k->fpga_core) + " (queue " + std::to_string(k->fpga_queue) + ") + fpga_scale"
                               : std::string(k->ndrange) + " (NDRange)";
}

OpenClBackend::OpenClBackend(int platform, int device, bool fpga_style)
    : rt_(platform, device), fpga_(fpga_style),
      name_(std::string(fpga_style ? "opencl-fpga:" : "opencl:") + std::to_string(platform) + ":" + std::to_string(device)) {}

const ocl::Buffer& OpenClBackend::constant(const void* host, size_t bytes) const {
  auto it = constants_.find(host);
  if (it != constants_.end() && it->second.bytes() == bytes) return it->second;
  ocl::Buffer b(rt_.context(), bytes);
  rt_.write(b, host, bytes);
  return constants_[host] = std::move(b);
}

const ocl::Buffer& OpenClBackend::scratch(int slot, size_t bytes) const {
  ocl::Buffer& b = scratch_[slot];
  if (b.bytes() < bytes || b.get() == nullptr) b = ocl::Buffer(rt_.context(), bytes < 64 ? 64 : bytes);
  return b;
}

void OpenClBackend::linear(const RowMixedLinear& w, const float* x, int64_t n_tokens, float* y) const {
  std::lock_guard<std::mutex> lock(mu_);
  const int K = int(w.cols), N = int(w.rows), T = int(n_tokens);
  const auto& xb = scratch(kX, size_t(n_tokens * K) * sizeof(float));
  rt_.write(xb, x, size_t(n_tokens * K) * sizeof(float));
  const auto& yb = scratch(kY, size_t(n_tokens * N) * sizeof(float));
  const auto* prep = dynamic_cast<const OpenClPreparedLinear*>(w.prepared.get());
  if (prep && prep->owner != this) prep = nullptr;
  const bool has_bias = w.bias != nullptr;
  const ocl::Buffer& bias = !has_bias ? xb  // unused when no bias
                                      : prep ? prep->bias : constant(w.bias, size_t(N) * sizeof(float));
  // Group i's arrays: the layout made at load, else uploaded once on first use.
  auto codes_of = [&](size_t i, const RowGroup& g) -> const ocl::Buffer& {
    return prep ? prep->groups[i].codes : constant(g.codes, size_t(g.rows) * quant_row_bytes(g.kind, K));
  };
  auto steps_of = [&](size_t i, const RowGroup& g) -> const ocl::Buffer& {
    return prep ? prep->groups[i].steps : constant(g.steps, size_t(g.rows) * sizeof(float));
  };
  auto perm_of = [&](size_t i, const RowGroup& g, int64_t goff) -> const ocl::Buffer& {
    return prep ? prep->groups[i].perm : constant(w.perm + goff, size_t(g.rows) * sizeof(int32_t));
  };
  const ocl::Buffer* xq = nullptr;
  const ocl::Buffer* xstep = nullptr;
  if (w.has_integer_groups()) {
    xq = &scratch(kXq, size_t(n_tokens * K));
    xstep = &scratch(kXstep, size_t(n_tokens) * sizeof(float));
    rt_.run(nullptr, "act_quantize", size_t(T), 0, xb, K, act_max_q(w.act), w.act.dynamic ? 1 : 0,
            w.act.clip, *xq, *xstep);
  }
  int64_t off = 0;
  struct FpgaGroup {
    size_t i;  // index in w.groups
    const RowGroup* g;
    int64_t off;
  };
  std::vector<FpgaGroup> fpga_groups;  // integer groups for the two FPGA cores
  for (size_t gi = 0; gi < w.groups.size(); ++gi) {
    const RowGroup& g = w.groups[gi];
    const int rb = int(quant_row_bytes(g.kind, K));
    const ClKernels* kern = cl_kernels(g.kind);
    RMSMP_CHECK(kern, ErrorCode::Internal, w.name << ": " << unsupported(w));  // refused at load (check_layers)
    if (g.kind == QuantKind::F32) {
      rt_.run(nullptr, kern->ndrange, size_t(g.rows), size_t(T), codes_of(gi, g), rb, perm_of(gi, g, off), xb, K, N,
              bias, has_bias ? 1 : 0, yb);
    } else if (fpga_ && kern->fpga_core) {
      fpga_groups.push_back({gi, &g, off});
    } else {
      rt_.run(nullptr, kern->ndrange, size_t(g.rows), size_t(T), codes_of(gi, g), rb, steps_of(gi, g),
              perm_of(gi, g, off), *xq, *xstep, K, N, bias, has_bias ? 1 : 0, yb);
    }
    off += g.rows;
  }
  if (!fpga_groups.empty()) {
    // The LUT core (queue 1) and the DSP core (queue 0) work on the same layer at once; both read the
    // activations act_quantize wrote on queue 0, so queue 0 drains first.
    ocl::check(clFinish(rt_.queue(0)), "clFinish");
    int slot = kAcc0;
    std::vector<const ocl::Buffer*> accs;
    for (const FpgaGroup& f : fpga_groups) {
      const RowGroup& g = *f.g;
      const int rb = int(quant_row_bytes(g.kind, K));
      const auto& acc = scratch(slot++, size_t(g.rows) * size_t(T) * sizeof(int32_t));
      accs.push_back(&acc);
      const ClKernels* kern = cl_kernels(g.kind);
      if (!kern->fpga_kind_arg)
        rt_.run_task(rt_.queue(kern->fpga_queue), kern->fpga_core, codes_of(f.i, g), rb, int(g.rows), *xq, K, T, acc);
      else
        rt_.run_task(rt_.queue(kern->fpga_queue), kern->fpga_core, codes_of(f.i, g), rb, int(g.rows), int(g.kind),
                     *xq, K, T, acc);
    }
    ocl::check(clFinish(rt_.queue(1)), "clFinish");
    for (size_t j = 0; j < fpga_groups.size(); ++j) {
      const FpgaGroup& f = fpga_groups[j];
      rt_.run(nullptr, "fpga_scale", size_t(f.g->rows), size_t(T), *accs[j], int(f.g->rows), steps_of(f.i, *f.g),
              perm_of(f.i, *f.g, f.off), *xstep, N, bias, has_bias ? 1 : 0, yb);
    }
  }
  rt_.read(yb, y, size_t(n_tokens * N) * sizeof(float));
}

void OpenClBackend::layer_norm(const float* x, const float* residual, const float* gamma, const float* beta, float eps,
                               int64_t n_tokens, int64_t dim, float* y) const {
  std::lock_guard<std::mutex> lock(mu_);
  const size_t bytes = size_t(n_tokens * dim) * sizeof(float);
  const auto& xb = scratch(kX, bytes);
  rt_.write(xb, x, bytes);
  const auto& rb = scratch(kRes, bytes);
  if (residual) rt_.write(rb, residual, bytes);
  const auto& yb = scratch(kY, bytes);
  rt_.run(nullptr, "layer_norm", size_t(n_tokens), 0, xb, rb, residual ? 1 : 0, constant(gamma, size_t(dim) * sizeof(float)),
          constant(beta, size_t(dim) * sizeof(float)), eps, int(dim), yb);
  rt_.read(yb, y, bytes);
}

void OpenClBackend::gelu(float* x, int64_t n) const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto& xb = scratch(kX, size_t(n) * sizeof(float));
  rt_.write(xb, x, size_t(n) * sizeof(float));
  rt_.run(nullptr, "gelu", size_t(n), 0, xb);
  rt_.read(xb, x, size_t(n) * sizeof(float));
}

void OpenClBackend::attention(const float* q, const float* k, const float* v, int64_t len, int64_t n_heads,
                              int64_t head_dim, float* out, const float* rel_bias) const {
  std::lock_guard<std::mutex> lock(mu_);
  const size_t bytes = size_t(len * n_heads * head_dim) * sizeof(float);
  const auto& qb = scratch(kQ, bytes);
  const auto& kb = scratch(kK, bytes);
  const auto& vb = scratch(kV, bytes);
  rt_.write(qb, q, bytes);
  rt_.write(kb, k, bytes);
  rt_.write(vb, v, bytes);
  const auto& pb = scratch(kP, size_t(n_heads * len * len) * sizeof(float));
  const auto& ob = scratch(kY, bytes);
  // Without a bias the kernel reads none; the buffer is still an argument (OpenCL has no null buffers).
  const size_t rb_bytes = rel_bias ? size_t(n_heads * rel_bias_stride(len)) * sizeof(float) : sizeof(float);
  const auto& rb = scratch(kRelBias, rb_bytes);
  if (rel_bias) rt_.write(rb, rel_bias, rb_bytes);
  rt_.run(nullptr, "attention", size_t(len), size_t(n_heads), qb, kb, vb, int(len), int(n_heads), int(head_dim), pb,
          rb, int(rel_bias ? rel_bias_stride(len) : 0), ob);
  rt_.read(ob, out, bytes);
}

std::unique_ptr<Backend> make_opencl_backend(const std::string& name) {
  std::string rest;
  bool fpga = false;
  if (name.rfind("opencl-fpga", 0) == 0) fpga = true, rest = name.substr(11);
  else if (name.rfind("opencl", 0) == 0) rest = name.substr(6);
  else return nullptr;
  int p = 0, d = 0;
  if (!rest.empty()) {
    char tail = 0;
    RMSMP_CHECK(std::sscanf(rest.c_str(), ":%d:%d%c", &p, &d, &tail) == 2, ErrorCode::InvalidArgument,
                "backend '" << name << "': expected opencl[:PLATFORM:DEVICE] or opencl-fpga[:PLATFORM:DEVICE]");
  }
  return std::make_unique<OpenClBackend>(p, d, fpga);
}

}  // namespace rmsmp
