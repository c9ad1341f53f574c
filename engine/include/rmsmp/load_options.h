// How a model file is loaded: shared by the text (model.h) and vision (vision.h) APIs.
#pragma once
#include <string>

namespace rmsmp {

struct LoadOptions {
  bool verify_checksum = true;
  // A name of the backend table (devices.h list_backends(); `rmsmp-run devices` prints it): "cpu" (the best
  // ISA here, or RMSMP_CPU_ISA=generic|avx2|avx512), "cpu:generic|avx2|avx512|amx" (pinned), "cpu-exact",
  // "reference" (the plain-loop oracle), "opencl[:P:D]" / "opencl-fpga[:P:D]" (builds with OpenCL).
  std::string backend = "cpu";
};

}  // namespace rmsmp
