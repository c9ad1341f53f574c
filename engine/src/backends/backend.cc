// make_backend: backend names -> instances (the only place that knows every backend).
#include "backends/backend.h"

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/isa.h"
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

void prepare_linear(const Backend& be, const ModelFile& file, RowMixedLinear& w) {
  w.prepared = be.prepare(w);
  if (!w.prepared) return;
  for (const RowGroup& g : w.groups)
    if (quant_is_integer(g.kind)) file.release(g.codes, size_t(g.rows) * quant_row_bytes(g.kind, w.cols));
}

}  // namespace rmsmp
