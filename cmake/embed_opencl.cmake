# Build step (cmake -P): embeds the OpenCL C sources into a C++ file, so the library carries its kernels
# and no generated file is committed. Inputs: -DOUT=<file.cc> -DSOURCES=<a.cl|b.cl|...> (common.cl first).
string(REPLACE "|" ";" SOURCES "${SOURCES}")
set(body "// Generated at build time by cmake/embed_opencl.cmake from opencl_kernels/*.cl. Do not edit.\n")
string(APPEND body "#include \"backends/opencl/kernel_sources.h\"\n\nnamespace rmsmp {\n\n")
string(APPEND body "const std::vector<KernelSource>& opencl_kernel_sources() {\n  static const std::vector<KernelSource> k = {\n")
foreach(src ${SOURCES})
  file(READ "${src}" text)
  get_filename_component(name "${src}" NAME)
  # Raw string literals cap at 64 KiB on some compilers; our files are far smaller.
  string(APPEND body "      {\"${name}\", R\"RMSMPCL(${text})RMSMPCL\"},\n")
endforeach()
string(APPEND body "  };\n  return k;\n}\n\n}  // namespace rmsmp\n")
file(WRITE "${OUT}.tmp" "${body}")
file(RENAME "${OUT}.tmp" "${OUT}")
