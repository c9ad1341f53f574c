// OpenCL backend: every encoder op as an OpenCL kernel (opencl_kernels/), on any OpenCL device.
//   "opencl[:P:D]"       NDRange kernels (CPUs, GPUs): one work-item per (row, token) of a row group.
//   "opencl-fpga[:P:D]"  the FPGA-style row-group kernels: PoT-4 rows on the shift-and-add "LUT core" and
//                        Fixed rows on the multiply "DSP core", single work-item kernels on two queues so
//                        both run concurrently on one layer, then the accumulate-and-scale kernel.
// Weights are uploaded once and kept on the device: a layer's codes, steps, permutation and bias at load
// (prepare), the LayerNorm parameters (and an unprepared layer's arrays) on first use, keyed by their host
// address (stable: a Model owns its file and its backend). Activations
// travel per op (the Backend interface is host-pointer based). Integer linear layers are bit-identical to the
// reference backend: same activation quantization, exact int32 accumulation, the same epilogue.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "backends/backend.h"
#include "backends/opencl/cl_runtime.h"

namespace rmsmp {

class OpenClBackend : public Backend {
 public:
  OpenClBackend(int platform, int device, bool fpga_style);
  const char* name() const override { return name_.c_str(); }
  const ocl::DeviceInfo& device() const { return rt_.info(); }

  // Load time: the layer's packed codes, steps, permutation and bias uploaded once into device buffers that
  // the layer keeps (so the model drops the host pages of its integer codes); linear() on an unprepared layer
  // still uploads them once, keyed by their host address.
  std::shared_ptr<const PreparedLinear> prepare(const RowMixedLinear& w) const override;
  // Schemes without a kernel here (the kernel table in opencl_backend.cc) are refused at load, by name.
  std::string unsupported(const RowMixedLinear& w) const override;
  std::string kernel_name(const RowMixedLinear& w, const RowGroup& g) const override;
  void linear(const RowMixedLinear& w, const float* x, int64_t n_tokens, float* y) const override;
  void layer_norm(const float* x, const float* residual, const float* gamma, const float* beta, float eps,
                  int64_t n_tokens, int64_t dim, float* y) const override;
  void gelu(float* x, int64_t n) const override;
  void attention(const float* q, const float* k, const float* v, int64_t len, int64_t n_heads, int64_t head_dim,
                 float* out, const float* rel_bias = nullptr) const override;

 private:
  // A constant host array mirrored on the device once.
  const ocl::Buffer& constant(const void* host, size_t bytes) const;
  // Per-op scratch buffer `slot`, grown on demand.
  const ocl::Buffer& scratch(int slot, size_t bytes) const;

  mutable std::mutex mu_;  // one op at a time: kernels, queues and scratch are shared
  mutable ocl::Runtime rt_;
  bool fpga_;
  std::string name_;
  mutable std::map<const void*, ocl::Buffer> constants_;
  mutable std::map<int, ocl::Buffer> scratch_;
};

// Parses "opencl", "opencl:P:D", "opencl-fpga", "opencl-fpga:P:D"; nullptr if `name` is not an OpenCL one.
std::unique_ptr<Backend> make_opencl_backend(const std::string& name);

}  // namespace rmsmp
