// The OpenCL C sources of opencl_kernels/, embedded at build time (cmake/embed_opencl.cmake). common.cl
// comes first; the host concatenates all of them into one program.
#pragma once
#include <vector>

namespace rmsmp {

struct KernelSource {
  const char* name;  // file name, for build logs
  const char* text;
};
const std::vector<KernelSource>& opencl_kernel_sources();

}  // namespace rmsmp
