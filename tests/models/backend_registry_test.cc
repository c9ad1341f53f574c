// The backend table (registry.h) and the load-time checks every backend gets (Backend::unsupported,
// check_layers): every listed name makes its backend where available, unknown names list the table, and a
// backend that cannot run some layers is refused at load with all of them named at once.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/reference/reference_backend.h"
#include "backends/registry.h"
#include "rmsmp/devices.h"
#include "rmsmp/error.h"
#include "util/test_env.h"

namespace rmsmp {
namespace {

TEST(BackendRegistry, EveryAvailableEntryMakesItsBackend) {
  ASSERT_FALSE(backend_kinds().empty());
  for (const BackendKind& k : backend_kinds()) {
    EXPECT_EQ(find_backend_kind(k.name), &k) << k.name;
    if (!k.available()) {
      if (std::string(k.name).rfind("cpu:", 0) == 0) {
        EXPECT_THROW(make_backend(k.name), Error) << k.name;
      }
      continue;
    }
    const auto be = make_backend(k.name);
    ASSERT_NE(be, nullptr) << k.name;
    // An alias names the backend it picked ("cpu" -> "cpu:avx2"); others their own name, with the device of
    // an indexed one ("opencl" -> "opencl:0:0").
    const std::string got = be->name(), want = k.alias ? std::string(k.name).substr(0, 3) : k.name;
    EXPECT_EQ(got.rfind(want, 0), 0u) << k.name << " made " << got;
  }
  // Suffixes only where the entry takes one, and no prefix matches ("opencl" is not "opencl-fpga").
  EXPECT_EQ(find_backend_kind("cpu:avx2:0"), nullptr);
  EXPECT_EQ(find_backend_kind("referencex"), nullptr);
  if (opencl_built()) {
    EXPECT_STREQ(find_backend_kind("opencl:0:0")->name, "opencl");
    EXPECT_STREQ(find_backend_kind("opencl-fpga:1:2")->name, "opencl-fpga");
  }
}

TEST(BackendRegistry, UnknownNamesListTheTable) {
  try {
    make_backend("cpu:neon");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    for (const BackendDescription& b : list_backends())
      EXPECT_NE(std::string(e.what()).find(b.name), std::string::npos) << b.name << ": " << e.what();
  }
  EXPECT_EQ(list_backends().size(), backend_kinds().size());
}

// A backend without fixed4 kernels: the reference otherwise.
class NoFixed4 : public ReferenceBackend {
 public:
  std::string unsupported(const RowMixedLinear& w) const override {
    for (const RowGroup& g : w.groups)
      if (g.kind == QuantKind::Fixed4 && g.rows > 0) return "no kernel for scheme 'fixed4' rows";
    return {};
  }
};

RowMixedLinear layer(const std::string& name, std::vector<QuantKind> kinds) {
  RowMixedLinear w;
  w.name = name;
  w.cols = 8;
  for (QuantKind k : kinds) w.groups.push_back({k, 2, nullptr, nullptr}), w.rows += 2;
  return w;
}

TEST(BackendChecks, EveryUnsupportedLayerIsNamedAtOnce) {
  const RowMixedLinear a = layer("layer.0.q", {QuantKind::Pow2x4, QuantKind::Fixed4}),
                       b = layer("layer.0.k", {QuantKind::Fixed8}),
                       c = layer("layer.1.ffn_in", {QuantKind::Fixed4});
  NoFixed4 be;
  check_layers(be, {&b}, "m.rmsmp");  // nothing to refuse
  try {
    check_layers(be, {&a, &b, &c}, "m.rmsmp");
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(e.code(), ErrorCode::Unsupported);
    for (const char* want : {"m.rmsmp", "reference", "2 of its 3 layers", "layer.0.q: no kernel for scheme 'fixed4'",
                             "layer.1.ffn_in"})
      EXPECT_NE(msg.find(want), std::string::npos) << want << " not in: " << msg;
    EXPECT_EQ(msg.find("layer.0.k"), std::string::npos) << msg;
  }
  // The reference runs every scheme of the table.
  EXPECT_NO_THROW(check_layers(ReferenceBackend(), {&a, &b, &c}, "m.rmsmp"));
}

// Every backend of the sweep runs every scheme of the table, so a real model never meets the check; a scheme
// beyond the table (a newer file's) is refused by those with per-scheme kernels, by name.
TEST(BackendChecks, EverySchemeOfTheTableRunsOnEveryBackend) {
  std::vector<QuantKind> all;
  for (const auto& s : kQuantSchemes) all.push_back(s.kind);
  const RowMixedLinear w = layer("l", all);
  for (const std::string& name : test::backend_sweep()) {
    const BackendKind* k = find_backend_kind(name.substr(0, name.find('/')));
    if (!k->available() || name.find('/') != std::string::npos) continue;
    const auto be = make_backend(name);
    EXPECT_EQ(be->unsupported(w), "") << name;
    for (const RowGroup& g : w.groups) EXPECT_FALSE(be->kernel_name(w, g).empty()) << name;
    if (name.rfind("opencl", 0) == 0) {
      const RowMixedLinear beyond = layer("l", {QuantKind::Count});
      EXPECT_NE(be->unsupported(beyond).find("no kernel for scheme number 4"), std::string::npos)
          << be->unsupported(beyond);
    }
  }
}

}  // namespace
}  // namespace rmsmp
