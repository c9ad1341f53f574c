// list_opencl_devices: the public view of ocl::list_devices (built with RMSMP_WITH_OPENCL; registry.cc has the
// empty one otherwise).
#include "rmsmp/devices.h"

#include "backends/opencl/cl_runtime.h"

namespace rmsmp {

std::vector<DeviceDescription> list_opencl_devices() {
  std::vector<DeviceDescription> out;
  for (const auto& d : ocl::list_devices())
    out.push_back({"opencl:" + std::to_string(d.platform) + ":" + std::to_string(d.device), d.platform_name,
                   d.device_name, d.type, d.version, d.global_mem_bytes, d.fp64});
  return out;
}

}  // namespace rmsmp
