// The compute devices a model can be loaded on (LoadOptions::backend names).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rmsmp {

struct DeviceDescription {
  std::string backend;      // the LoadOptions::backend / --device name, e.g. "opencl:0:0"
  std::string platform;     // e.g. "Portable Computing Language"
  std::string name;         // e.g. "pthread-haswell-AMD EPYC 7B13"
  std::string type;         // CPU, GPU, accelerator
  std::string version;      // e.g. "OpenCL 3.0 PoCL ..."
  uint64_t memory_bytes = 0;
  bool fp64 = false;
};

// One compute backend of this build (LoadOptions::backend names), in the order help texts list them.
struct BackendDescription {
  std::string name;     // e.g. "cpu:avx2", "opencl[:P:D]"
  std::string summary;  // one line
  bool alias = false;   // picks another entry's backend (cpu = the best cpu:ISA here)
  bool available = false;  // this machine can run it (CPU features, an OpenCL device)
};
std::vector<BackendDescription> list_backends();
// Every accepted name, comma-separated ("cpu, cpu-exact, cpu:generic, ..."), for help and error messages.
std::string backend_names();
// Whether this build has the OpenCL backends (CMake option RMSMP_WITH_OPENCL).
bool opencl_built();

// The CPU backends this machine supports, e.g. "cpu = cpu:avx2 (supported: cpu:generic cpu:avx2), reference".
std::string cpu_backends_description();

// Every OpenCL device of every installed platform; empty when no OpenCL driver (ICD) is installed or the build
// has no OpenCL.
std::vector<DeviceDescription> list_opencl_devices();

}  // namespace rmsmp
