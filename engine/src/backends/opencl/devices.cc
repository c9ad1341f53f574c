// list_opencl_devices: the public view of ocl::list_devices.
#include "rmsmp/devices.h"

#include "backends/cpu/gemm_s8.h"
#include "backends/cpu/isa.h"
#include "backends/opencl/cl_runtime.h"

namespace rmsmp {

std::string cpu_backends_description() {
  const bool amx = isa_supported(Isa::Avx512Vnni) && amx_usable();
  std::string s = std::string("cpu = cpu:") + (amx ? "amx" : isa_name(isa_best())) + " here (supported:";
  for (Isa i : {Isa::Generic, Isa::Avx2, Isa::Avx512Vnni})
    if (isa_supported(i)) s += std::string(" cpu:") + isa_name(i);
  return s + (amx ? " cpu:amx" : "") + "), reference";
}

std::vector<DeviceDescription> list_opencl_devices() {
  std::vector<DeviceDescription> out;
  for (const auto& d : ocl::list_devices())
    out.push_back({"opencl:" + std::to_string(d.platform) + ":" + std::to_string(d.device), d.platform_name,
                   d.device_name, d.type, d.version, d.global_mem_bytes, d.fp64});
  return out;
}

}  // namespace rmsmp
