// How a model file is loaded: shared by the text (model.h) and vision (vision.h) APIs.
#pragma once
#include <string>

namespace rmsmp {

struct LoadOptions {
  bool verify_checksum = true;
  // "cpu" (best ISA, or RMSMP_CPU_ISA=generic|avx2|avx512), "cpu:generic|avx2|avx512" (pinned), "cpu-exact",
  // "reference" (the plain-loop oracle), or "opencl[:P:D]" / "opencl-fpga[:P:D]" (devices.h lists them).
  std::string backend = "cpu";
};

}  // namespace rmsmp
