// make_backend: backend names -> instances (the only place that knows every backend).
#include "backends/backend.h"

#include <cstring>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/isa.h"
#include "core/target_clones.h"
#include "backends/opencl/opencl_backend.h"
#include "backends/reference/reference_backend.h"
#include "io/model_format.h"
#include "rmsmp/error.h"

namespace rmsmp {

std::unique_ptr<Backend> make_backend(const std::string& name) {
  if (name == "reference") return std::make_unique<ReferenceBackend>();
  if (name == "cpu") return std::make_unique<CpuBackend>(isa_selected());
  if (name == "cpu-exact") return std::make_unique<CpuBackend>(isa_selected(), true);
  Isa isa;
  if (name.rfind("cpu:", 0) == 0 && isa_parse(name.substr(4), &isa)) {
    RMSMP_CHECK(isa_supported(isa), ErrorCode::Unsupported,
                "backend " << name << ": this CPU does not support " << isa_name(isa));
    return std::make_unique<CpuBackend>(isa);
  }
  if (auto ocl = make_opencl_backend(name)) return ocl;
  RMSMP_FAIL(ErrorCode::InvalidArgument,
             "unknown backend '" << name << "' (known: cpu, cpu-exact, cpu:generic, cpu:avx2, cpu:avx512, reference, opencl[:P:D], opencl-fpga[:P:D])");
}

RMSMP_CLONES void apply_post(float* __restrict y, const float* __restrict residual, int64_t n, LinearPost::Act act) {
  if (residual)
    for (int64_t i = 0; i < n; ++i) y[i] += residual[i];
  if (act == LinearPost::Act::Relu) {
    for (int64_t i = 0; i < n; ++i) y[i] = y[i] > 0.f ? y[i] : 0.f;
  } else if (act == LinearPost::Act::Relu6) {
    for (int64_t i = 0; i < n; ++i) y[i] = y[i] > 0.f ? (y[i] < 6.f ? y[i] : 6.f) : 0.f;
  }
}

namespace {
typedef uint32_t U32x16 __attribute__((vector_size(64)));  // GCC vector extension: zmm, 2 ymm or 4 xmm per clone
}

RMSMP_CLONES uint32_t abs_max_bits(const float* x, int64_t n) {
  // Written on vector types: GCC did not vectorise the scalar form of this reduction (select + unsigned max).
  const U32x16 mag = U32x16{} + 0x7fffffffu, inf = U32x16{} + 0x7f800000u;
  U32x16 r = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    U32x16 u;
    std::memcpy(&u, x + i, 64);
    u &= mag;
    u = u > inf ? U32x16{} : u;  // NaN -> 0
    r = u > r ? u : r;
  }
  uint32_t m = 0;
  for (int j = 0; j < 16; ++j) m = r[j] > m ? r[j] : m;
  for (; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, x + i, 4);
    u &= 0x7fffffffu;
    u = u > 0x7f800000u ? 0u : u;
    m = u > m ? u : m;
  }
  return m;
}

void Backend::linear_s8(const RowMixedLinear& w, const ActQuant& act, const int8_t* xq, float xstep,
                        int64_t n_tokens, const LinearPost& post, float* y) const {
  RMSMP_CHECK(!act.dynamic, ErrorCode::Internal, "linear_s8 on " << w.name << ": the activation step must be static");
  std::vector<float> x(size_t(n_tokens * w.cols));
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(xq[i]) * xstep;
  RowMixedLinear lq = w;  // a view with the caller's quantizer (no weight copy)
  lq.act = act;
  linear(lq, x.data(), n_tokens, y);
  apply_post(y, post.residual, n_tokens * w.rows, post.act);
  if (post.abs_max) *post.abs_max = abs_max_bits(y, n_tokens * w.rows);
}

void Backend::linear_static(const RowMixedLinear& w, const ActQuant& act, const float* x, int64_t n_tokens,
                            const LinearPost& post, float* y) const {
  std::vector<int8_t> q(size_t(n_tokens * w.cols));
  const float step = quantize_activations(x, n_tokens * w.cols, act, q.data());
  linear_s8(w, act, q.data(), step, n_tokens, post, y);
}

void Backend::linear_patches(const RowMixedLinear& w, const ActQuant& act, const PatchSource& src, float xstep,
                             int64_t n_tokens, const LinearPost& post, float* y) const {
  std::vector<int8_t> q(size_t(n_tokens * w.cols));
  src.rows(0, n_tokens, q.data(), w.cols);
  linear_s8(w, act, q.data(), xstep, n_tokens, post, y);
}

void prepare_linear(const Backend& be, const ModelFile& file, RowMixedLinear& w) {
  w.prepared = be.prepare(w);
  if (!w.prepared) return;
  for (const RowGroup& g : w.groups)
    if (quant_is_integer(g.kind)) file.release(g.codes, size_t(g.rows) * quant_row_bytes(g.kind, w.cols));
}

}  // namespace rmsmp
