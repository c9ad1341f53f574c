// The one list of compute backends: every name make_backend accepts, what it runs, and whether this build and
// this machine have it. make_backend, the CLIs' help and `rmsmp-run devices` (through devices.h), the backend
// tests and the benchmarks all read this table; a new backend is one entry here plus its own folder.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"

namespace rmsmp {

struct BackendKind {
  const char* name;      // what make_backend takes, e.g. "cpu:avx2" or "opencl"
  const char* suffix;    // optional text after the name, shown in help ("[:P:D]"), or ""
  const char* summary;   // one line for help texts
  // True for a name that picks another entry's backend (cpu = the best cpu:ISA here, cpu-exact = cpu with
  // the reference's fp32 order): sweeps over every backend (tests, benchmarks) leave these out.
  bool alias;
  // Whether this machine can run it (CPU features, an OpenCL device); make fails with Unsupported otherwise.
  bool (*available)();
  // The backend for `full_name` (the name, plus the suffix when given); errors name the problem.
  std::unique_ptr<Backend> (*make)(const std::string& full_name);
};

// In the order help texts list them. Entries not compiled in (OpenCL without RMSMP_WITH_OPENCL) are absent.
const std::vector<BackendKind>& backend_kinds();

// The entry `name` selects: its name exactly, or followed by ':' where the entry takes a suffix; null if none.
const BackendKind* find_backend_kind(const std::string& name);

// "cpu, cpu-exact, cpu:generic, ..., opencl[:P:D]": every accepted form, for messages.
std::string backend_names_list();

}  // namespace rmsmp
