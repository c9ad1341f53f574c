// OpenCL host plumbing: device discovery, one context with two in-order queues (two let the FPGA-style
// kernels of one layer run concurrently), the program built from the embedded kernels, cached kernel objects,
// and RAII buffers. Every OpenCL call is checked; failures become rmsmp::Error with the call and CL error name.
// Not thread-safe: the backend serialises its use.
#pragma once
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace rmsmp::ocl {

const char* error_name(cl_int err);
void check(cl_int err, const char* call);  // throws Error{IoError} "OpenCL call failed: <call>: <name>"

struct DeviceInfo {
  int platform = 0, device = 0;
  std::string platform_name, device_name, type, version;
  uint64_t global_mem_bytes = 0;
  bool fp64 = false;
};
// Every device of every platform; empty when no OpenCL platform (ICD) is installed.
std::vector<DeviceInfo> list_devices();

class Buffer {
 public:
  Buffer() = default;
  Buffer(cl_context ctx, size_t bytes);  // read-write, device memory
  ~Buffer();
  Buffer(Buffer&& o) noexcept;
  Buffer& operator=(Buffer&& o) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  cl_mem get() const { return mem_; }
  size_t bytes() const { return bytes_; }

 private:
  cl_mem mem_ = nullptr;
  size_t bytes_ = 0;
};

class Runtime {
 public:
  // Builds the embedded program for device (platform, device); throws NotFound/Unsupported/IoError with the
  // build log on failure.
  Runtime(int platform, int device);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  const DeviceInfo& info() const { return info_; }
  cl_context context() const { return ctx_; }
  cl_command_queue queue(int i) const { return queues_[i]; }
  cl_kernel kernel(const char* name);  // created on first use

  // Blocking transfers on queue 0.
  void write(const Buffer& b, const void* src, size_t bytes, cl_command_queue q = nullptr);
  void read(const Buffer& b, void* dst, size_t bytes);
  // Sets the arguments in order and enqueues an NDRange of up to 2 dimensions (gy == 0: 1-D).
  template <typename... A>
  void run(cl_command_queue q, const char* name, size_t gx, size_t gy, const A&... args) {
    cl_kernel k = kernel(name);
    cl_uint i = 0;
    (set_arg(k, i++, args), ...);
    enqueue(q, k, name, gx, gy, false);
  }
  // A single-work-item kernel (global = local = 1), the form FPGA compilers pipeline.
  template <typename... A>
  void run_task(cl_command_queue q, const char* name, const A&... args) {
    cl_kernel k = kernel(name);
    cl_uint i = 0;
    (set_arg(k, i++, args), ...);
    enqueue(q, k, name, 1, 0, true);
  }

 private:
  static void set_arg(cl_kernel k, cl_uint i, const Buffer& b);
  static void set_arg(cl_kernel k, cl_uint i, int v);
  static void set_arg(cl_kernel k, cl_uint i, float v);
  void enqueue(cl_command_queue q, cl_kernel k, const char* name, size_t gx, size_t gy, bool task);

  DeviceInfo info_;
  cl_device_id dev_ = nullptr;
  cl_context ctx_ = nullptr;
  cl_command_queue queues_[2] = {nullptr, nullptr};
  cl_program prog_ = nullptr;
  std::map<std::string, cl_kernel> kernels_;
};

}  // namespace rmsmp::ocl
