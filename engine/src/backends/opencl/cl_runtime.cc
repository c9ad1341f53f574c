// OpenCL runtime: discovery, program build from the embedded sources, checked calls.
#include "backends/opencl/cl_runtime.h"

#include <string>

#include "backends/opencl/kernel_sources.h"
#include "rmsmp/error.h"

namespace rmsmp::ocl {

const char* error_name(cl_int e) {
  switch (e) {
#define RMSMP_CL_ERR(x) case x: return #x;
    RMSMP_CL_ERR(CL_DEVICE_NOT_FOUND) RMSMP_CL_ERR(CL_DEVICE_NOT_AVAILABLE) RMSMP_CL_ERR(CL_COMPILER_NOT_AVAILABLE)
    RMSMP_CL_ERR(CL_MEM_OBJECT_ALLOCATION_FAILURE) RMSMP_CL_ERR(CL_OUT_OF_RESOURCES) RMSMP_CL_ERR(CL_OUT_OF_HOST_MEMORY)
    RMSMP_CL_ERR(CL_BUILD_PROGRAM_FAILURE) RMSMP_CL_ERR(CL_INVALID_VALUE) RMSMP_CL_ERR(CL_INVALID_DEVICE)
    RMSMP_CL_ERR(CL_INVALID_CONTEXT) RMSMP_CL_ERR(CL_INVALID_COMMAND_QUEUE) RMSMP_CL_ERR(CL_INVALID_MEM_OBJECT)
    RMSMP_CL_ERR(CL_INVALID_PROGRAM) RMSMP_CL_ERR(CL_INVALID_KERNEL_NAME) RMSMP_CL_ERR(CL_INVALID_KERNEL)
    RMSMP_CL_ERR(CL_INVALID_ARG_INDEX) RMSMP_CL_ERR(CL_INVALID_ARG_VALUE) RMSMP_CL_ERR(CL_INVALID_ARG_SIZE)
    RMSMP_CL_ERR(CL_INVALID_KERNEL_ARGS) RMSMP_CL_ERR(CL_INVALID_WORK_DIMENSION)
    RMSMP_CL_ERR(CL_INVALID_WORK_GROUP_SIZE) RMSMP_CL_ERR(CL_INVALID_GLOBAL_WORK_SIZE)
    RMSMP_CL_ERR(CL_INVALID_BUFFER_SIZE) RMSMP_CL_ERR(CL_INVALID_OPERATION) RMSMP_CL_ERR(CL_INVALID_PLATFORM)
#undef RMSMP_CL_ERR
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR (no OpenCL driver/ICD installed)";
    default: return "unknown OpenCL error";
  }
}

void check(cl_int err, const char* call) {
  RMSMP_CHECK(err == CL_SUCCESS, ErrorCode::IoError,
              "OpenCL call failed: " << call << ": " << error_name(err) << " (" << err << ")");
}

namespace {
std::string platform_str(cl_platform_id p, cl_platform_info what) {
  size_t n = 0;
  check(clGetPlatformInfo(p, what, 0, nullptr, &n), "clGetPlatformInfo");
  std::string s(n, '\0');
  check(clGetPlatformInfo(p, what, n, s.data(), nullptr), "clGetPlatformInfo");
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}
std::string device_str(cl_device_id d, cl_device_info what) {
  size_t n = 0;
  check(clGetDeviceInfo(d, what, 0, nullptr, &n), "clGetDeviceInfo");
  std::string s(n, '\0');
  check(clGetDeviceInfo(d, what, n, s.data(), nullptr), "clGetDeviceInfo");
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}
std::vector<cl_platform_id> platforms() {
  cl_uint n = 0;
  const cl_int e = clGetPlatformIDs(0, nullptr, &n);
  if (e == -1001 || n == 0) return {};  // no ICD installed: not an error for discovery
  check(e, "clGetPlatformIDs");
  std::vector<cl_platform_id> p(n);
  check(clGetPlatformIDs(n, p.data(), nullptr), "clGetPlatformIDs");
  return p;
}
std::vector<cl_device_id> devices(cl_platform_id p) {
  cl_uint n = 0;
  const cl_int e = clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, nullptr, &n);
  if (e == CL_DEVICE_NOT_FOUND || n == 0) return {};
  check(e, "clGetDeviceIDs");
  std::vector<cl_device_id> d(n);
  check(clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, n, d.data(), nullptr), "clGetDeviceIDs");
  return d;
}
DeviceInfo describe(int pi, int di, cl_platform_id p, cl_device_id d) {
  DeviceInfo i;
  i.platform = pi, i.device = di;
  i.platform_name = platform_str(p, CL_PLATFORM_NAME);
  i.device_name = device_str(d, CL_DEVICE_NAME);
  i.version = device_str(d, CL_DEVICE_VERSION);
  cl_device_type t = 0;
  check(clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof t, &t, nullptr), "clGetDeviceInfo");
  i.type = (t & CL_DEVICE_TYPE_GPU) ? "GPU" : (t & CL_DEVICE_TYPE_CPU) ? "CPU" : (t & CL_DEVICE_TYPE_ACCELERATOR) ? "accelerator" : "other";
  cl_ulong mem = 0;
  check(clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof mem, &mem, nullptr), "clGetDeviceInfo");
  i.global_mem_bytes = mem;
  i.fp64 = device_str(d, CL_DEVICE_EXTENSIONS).find("cl_khr_fp64") != std::string::npos;
  return i;
}
}  // namespace

std::vector<DeviceInfo> list_devices() {
  std::vector<DeviceInfo> out;
  const auto ps = platforms();
  for (size_t pi = 0; pi < ps.size(); ++pi) {
    const auto ds = devices(ps[pi]);
    for (size_t di = 0; di < ds.size(); ++di) out.push_back(describe(int(pi), int(di), ps[pi], ds[di]));
  }
  return out;
}

Buffer::Buffer(cl_context ctx, size_t bytes) : bytes_(bytes) {
  cl_int e = CL_SUCCESS;
  mem_ = clCreateBuffer(ctx, CL_MEM_READ_WRITE, bytes ? bytes : 4, nullptr, &e);
  check(e, "clCreateBuffer");
}
Buffer::~Buffer() {
  if (mem_) clReleaseMemObject(mem_);
}
Buffer::Buffer(Buffer&& o) noexcept : mem_(o.mem_), bytes_(o.bytes_) { o.mem_ = nullptr, o.bytes_ = 0; }
Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    if (mem_) clReleaseMemObject(mem_);
    mem_ = o.mem_, bytes_ = o.bytes_;
    o.mem_ = nullptr, o.bytes_ = 0;
  }
  return *this;
}

Runtime::Runtime(int platform, int device) {
  const auto ps = platforms();
  RMSMP_CHECK(!ps.empty(), ErrorCode::NotFound,
              "no OpenCL platform found: install an OpenCL driver (e.g. Debian's pocl-opencl-icd for CPUs)");
  RMSMP_CHECK(platform >= 0 && size_t(platform) < ps.size(), ErrorCode::NotFound,
              "OpenCL platform " << platform << " does not exist (" << ps.size() << " found; see rmsmp-run devices)");
  const auto ds = devices(ps[size_t(platform)]);
  RMSMP_CHECK(device >= 0 && size_t(device) < ds.size(), ErrorCode::NotFound,
              "OpenCL device " << platform << ":" << device << " does not exist (platform " << platform << " has "
                               << ds.size() << " devices; see rmsmp-run devices)");
  dev_ = ds[size_t(device)];
  info_ = describe(platform, device, ps[size_t(platform)], dev_);
  cl_int e = CL_SUCCESS;
  ctx_ = clCreateContext(nullptr, 1, &dev_, nullptr, nullptr, &e);
  check(e, "clCreateContext");
  for (auto& q : queues_) {
    q = clCreateCommandQueue(ctx_, dev_, 0, &e);
    check(e, "clCreateCommandQueue");
  }
  std::vector<const char*> texts;
  for (const auto& s : opencl_kernel_sources()) texts.push_back(s.text);
  prog_ = clCreateProgramWithSource(ctx_, cl_uint(texts.size()), texts.data(), nullptr, &e);
  check(e, "clCreateProgramWithSource");
  // Correctly rounded division/sqrt: activation steps must equal the host's bit for bit.
  const cl_int be = clBuildProgram(prog_, 1, &dev_, "-cl-std=CL1.2 -cl-fp32-correctly-rounded-divide-sqrt", nullptr, nullptr);
  if (be != CL_SUCCESS) {
    size_t n = 0;
    clGetProgramBuildInfo(prog_, dev_, CL_PROGRAM_BUILD_LOG, 0, nullptr, &n);
    std::string log(n, '\0');
    clGetProgramBuildInfo(prog_, dev_, CL_PROGRAM_BUILD_LOG, n, log.data(), nullptr);
    RMSMP_FAIL(ErrorCode::Unsupported, "OpenCL program build failed on " << info_.device_name << ": "
                                                                          << error_name(be) << "\n" << log);
  }
}

Runtime::~Runtime() {
  for (auto& [n, k] : kernels_) clReleaseKernel(k);
  if (prog_) clReleaseProgram(prog_);
  for (auto q : queues_)
    if (q) clReleaseCommandQueue(q);
  if (ctx_) clReleaseContext(ctx_);
}

cl_kernel Runtime::kernel(const char* name) {
  auto it = kernels_.find(name);
  if (it != kernels_.end()) return it->second;
  cl_int e = CL_SUCCESS;
  cl_kernel k = clCreateKernel(prog_, name, &e);
  check(e, "clCreateKernel");
  kernels_[name] = k;
  return k;
}

void Runtime::write(const Buffer& b, const void* src, size_t bytes, cl_command_queue q) {
  if (bytes == 0) return;
  check(clEnqueueWriteBuffer(q ? q : queues_[0], b.get(), CL_TRUE, 0, bytes, src, 0, nullptr, nullptr),
        "clEnqueueWriteBuffer");
}
void Runtime::read(const Buffer& b, void* dst, size_t bytes) {
  if (bytes == 0) return;
  check(clEnqueueReadBuffer(queues_[0], b.get(), CL_TRUE, 0, bytes, dst, 0, nullptr, nullptr), "clEnqueueReadBuffer");
}

void Runtime::set_arg(cl_kernel k, cl_uint i, const Buffer& b) {
  cl_mem m = b.get();
  check(clSetKernelArg(k, i, sizeof m, &m), "clSetKernelArg");
}
void Runtime::set_arg(cl_kernel k, cl_uint i, int v) { check(clSetKernelArg(k, i, sizeof v, &v), "clSetKernelArg"); }
void Runtime::set_arg(cl_kernel k, cl_uint i, float v) { check(clSetKernelArg(k, i, sizeof v, &v), "clSetKernelArg"); }

void Runtime::enqueue(cl_command_queue q, cl_kernel k, const char* name, size_t gx, size_t gy, bool task) {
  if (gx == 0) return;
  const size_t g[2] = {gx, gy ? gy : 1}, one[2] = {1, 1};
  const cl_int e = clEnqueueNDRangeKernel(q ? q : queues_[0], k, gy ? 2 : 1, nullptr, g, task ? one : nullptr, 0,
                                          nullptr, nullptr);
  RMSMP_CHECK(e == CL_SUCCESS, ErrorCode::IoError, "OpenCL kernel " << name << " failed to launch: " << error_name(e));
}

}  // namespace rmsmp::ocl
