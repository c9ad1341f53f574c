// The backend table (registry.h) and make_backend, the only place that knows every backend. OpenCL entries
// exist when the build has them (RMSMP_WITH_OPENCL, set on this file by engine/CMakeLists.txt).
#include "backends/registry.h"

#include <cstdlib>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/gemm_s8.h"
#include "backends/cpu/isa.h"
#include "backends/reference/reference_backend.h"
#include "rmsmp/devices.h"
#include "rmsmp/error.h"
#if RMSMP_WITH_OPENCL
#include "backends/opencl/opencl_backend.h"
#endif

namespace rmsmp {
namespace {

bool always() { return true; }
bool amx_here() { return isa_supported(Isa::Avx512Vnni) && amx_usable(); }

// "cpu" and "cpu-exact": the best ISA here, with AMX tiles where usable, unless RMSMP_CPU_ISA pins an ISA's
// own kernels.
std::unique_ptr<Backend> make_cpu(bool exact) {
  const char* pinned = std::getenv("RMSMP_CPU_ISA");
  const Isa isa = isa_selected();
  const bool amx = isa == Isa::Avx512Vnni && !(pinned && *pinned) && amx_usable();
  return std::make_unique<CpuBackend>(isa, exact, amx);
}

template <Isa kIsa>
std::unique_ptr<Backend> make_pinned(const std::string& name) {
  RMSMP_CHECK(isa_supported(kIsa), ErrorCode::Unsupported,
              "backend " << name << ": this CPU does not support " << isa_name(kIsa));
  return std::make_unique<CpuBackend>(kIsa);
}

std::vector<BackendKind> make_table() {
  std::vector<BackendKind> t = {
      {"cpu", "", "the best CPU kernels here (AMX, AVX-512 VNNI, AVX2 or generic; RMSMP_CPU_ISA pins one)", true,
       always, [](const std::string&) { return make_cpu(false); }},
      {"cpu-exact", "", "cpu with fp32 rows summed in the reference's order (the converters' calibration)", true,
       always, [](const std::string&) { return make_cpu(true); }},
      {"cpu:generic", "", "portable C++ integer kernels", false, [] { return isa_supported(Isa::Generic); },
       make_pinned<Isa::Generic>},
      {"cpu:avx2", "", "AVX2 integer kernels", false, [] { return isa_supported(Isa::Avx2); },
       make_pinned<Isa::Avx2>},
      {"cpu:avx512", "", "AVX-512 VNNI integer kernels", false, [] { return isa_supported(Isa::Avx512Vnni); },
       make_pinned<Isa::Avx512Vnni>},
      {"cpu:amx", "", "AMX-INT8 tiles (with the AVX-512 VNNI kernels for the rest)", false, amx_here,
       [](const std::string& name) -> std::unique_ptr<Backend> {
         RMSMP_CHECK(amx_here(), ErrorCode::Unsupported,
                     "backend " << name << ": this CPU (or this process) has no AMX-INT8 tiles");
         return std::make_unique<CpuBackend>(Isa::Avx512Vnni, false, true);
       }},
      {"reference", "", "plain loops: the oracle every other backend is tested against", false, always,
       [](const std::string&) -> std::unique_ptr<Backend> { return std::make_unique<ReferenceBackend>(); }},
  };
#if RMSMP_WITH_OPENCL
  const auto opencl_here = [] { return !list_opencl_devices().empty(); };
  t.push_back({"opencl", "[:P:D]", "OpenCL NDRange kernels on device D of platform P (default 0:0)", false,
               opencl_here, make_opencl_backend});
  t.push_back({"opencl-fpga", "[:P:D]", "the FPGA-style LUT/DSP row-group kernels on that OpenCL device", false,
               opencl_here, make_opencl_backend});
#endif
  return t;
}

}  // namespace

const std::vector<BackendKind>& backend_kinds() {
  static const std::vector<BackendKind> table = make_table();
  return table;
}

const BackendKind* find_backend_kind(const std::string& name) {
  for (const BackendKind& k : backend_kinds()) {
    const size_t n = std::char_traits<char>::length(k.name);
    if (name.compare(0, n, k.name) != 0) continue;
    if (name.size() == n || (*k.suffix && name[n] == ':')) return &k;
  }
  return nullptr;
}

std::string backend_names_list() {
  std::string s;
  for (const BackendKind& k : backend_kinds()) s += (s.empty() ? "" : ", ") + std::string(k.name) + k.suffix;
  return s;
}

std::unique_ptr<Backend> make_backend(const std::string& name) {
  if (const BackendKind* k = find_backend_kind(name)) return k->make(name);
#if !RMSMP_WITH_OPENCL
  RMSMP_CHECK(name.rfind("opencl", 0) != 0, ErrorCode::Unsupported,
              "backend '" << name << "': this build of rmsmp has no OpenCL (configured with -DRMSMP_WITH_OPENCL=OFF)");
#endif
  RMSMP_FAIL(ErrorCode::InvalidArgument, "unknown backend '" << name << "' (known: " << backend_names_list() << ")");
}

// ---- devices.h -----------------------------------------------------------------------------------

std::vector<BackendDescription> list_backends() {
  std::vector<BackendDescription> out;
  for (const BackendKind& k : backend_kinds())
    out.push_back({std::string(k.name) + k.suffix, k.summary, k.alias, k.available()});
  return out;
}

std::string backend_names() { return backend_names_list(); }

std::string cpu_backends_description() {
  const bool amx = amx_here();
  std::string s = std::string("cpu = cpu:") + (amx ? "amx" : isa_name(isa_best())) + " here (supported:";
  for (Isa i : {Isa::Generic, Isa::Avx2, Isa::Avx512Vnni})
    if (isa_supported(i)) s += std::string(" cpu:") + isa_name(i);
  return s + (amx ? " cpu:amx" : "") + "), reference";
}

#if !RMSMP_WITH_OPENCL
std::vector<DeviceDescription> list_opencl_devices() { return {}; }
bool opencl_built() { return false; }
#else
bool opencl_built() { return true; }
#endif

}  // namespace rmsmp
