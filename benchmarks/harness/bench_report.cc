// Timing, merging and Markdown for rmsmp-bench (see bench_report.h).
#include "harness/bench_report.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

namespace rmsmp::bench {

std::vector<double> time_calls(const std::function<void()>& fn, int repeats, int warmup) {
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void put_timings(nlohmann::json& rec, const std::vector<double>& ms) {
  rec["median_ms"] = median(ms);
  rec["min_ms"] = ms.empty() ? 0 : ms.front();
  rec["max_ms"] = ms.empty() ? 0 : ms.back();
  rec["repeats"] = ms.size();
}

namespace {
std::string run_capture(const std::string& cmd) {
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[256];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    ::pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}
}  // namespace

std::string source_dir() {
  const char* e = std::getenv("RMSMP_SOURCE_DIR");
  return e && *e ? e : RMSMP_SOURCE_DIR;
}

nlohmann::json machine_stamp() {
  std::string cpu = "unknown";
  std::ifstream ci("/proc/cpuinfo");
  for (std::string l; std::getline(ci, l);)
    if (l.rfind("model name", 0) == 0) {
      cpu = l.substr(l.find(':') + 2);
      break;
    }
  const std::string src = source_dir();
  // $RMSMP_GIT_SHA wins: a binary bundle run from a copied tree (scripts/device_check.sh) knows its commit.
  const char* env_sha = std::getenv("RMSMP_GIT_SHA");
  std::string sha = env_sha && *env_sha ? env_sha : run_capture("git -C '" + src + "' rev-parse --short=12 HEAD 2>/dev/null");
  if (sha.empty()) sha = "unknown";
  else if (!(env_sha && *env_sha) && !run_capture("git -C '" + src + "' status --porcelain --untracked-files=no 2>/dev/null").empty())
    sha += "-dirty";
  return {{"cpu", cpu}, {"logical_cpus", std::thread::hardware_concurrency()}, {"git_sha", sha}};
}

std::vector<nlohmann::json> merge_processes(const std::vector<nlohmann::json>& recs) {
  static const std::set<std::string> measured = {"median_ms", "min_ms", "max_ms", "repeats", "gops", "gmacs",
                                                 "fraction_of_peak", "tokens_per_s", "processes", "spread",
                                                 "peak_rss_mb", "rss_mb", "process"};
  std::map<std::string, std::vector<nlohmann::json>> by_key;
  std::vector<std::string> order;
  for (const auto& r : recs) {
    nlohmann::json k = nlohmann::json::object();
    // Rates ("images_per_s", "tokens_per_s", ...) are measurements too: a vision record's images_per_s kept
    // every process's record apart, so its tables showed the last process instead of the lowest median.
    for (auto it = r.begin(); it != r.end(); ++it) {
      const std::string& name = it.key();
      const bool rate = name.size() > 6 && name.compare(name.size() - 6, 6, "_per_s") == 0;
      if (!measured.count(name) && !rate) k[name] = it.value();
    }
    const std::string key = k.dump();
    if (!by_key.count(key)) order.push_back(key);
    by_key[key].push_back(r);
  }
  std::vector<nlohmann::json> out;
  for (const auto& key : order) {
    auto& v = by_key[key];
    auto best = std::min_element(v.begin(), v.end(), [](const auto& a, const auto& b) {
      return a["median_ms"].template get<double>() < b["median_ms"].template get<double>();
    });
    double lo = 1e300, hi = 0;
    for (const auto& r : v) lo = std::min(lo, r["median_ms"].get<double>()), hi = std::max(hi, r["median_ms"].get<double>());
    nlohmann::json m = *best;
    m.erase("process");
    m["processes"] = v.size();
    m["spread"] = lo > 0 ? hi / lo : 1.0;
    out.push_back(m);
  }
  return out;
}

namespace {
std::string fmt(double v, int prec) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(prec);
  s << v;
  return s.str();
}
}  // namespace

std::string markdown_table(const std::vector<nlohmann::json>& recs, const nlohmann::json& stamp) {
  std::ostringstream md;
  md << "CPU: " << stamp.value("cpu", "?") << " · git " << stamp.value("git_sha", "?") << "\n\n";
  // e2e and vision: one row per (model, device, batch, seq, threads); engines as columns (median ms, lowest
  // process). For vision, "seq" is the input height.
  for (const char* suite : {"e2e", "vision"}) {
    std::vector<std::string> engines;
    std::map<std::string, std::map<std::string, double>> rows;
    std::vector<std::string> row_order;
    for (const auto& r : recs) {
      if (r.value("suite", "") != suite) continue;
      // Our engines on a non-CPU backend get the device in their column name; CPU ISA suffixes do not split rows.
      const std::string dev = r.value("device", "");
      const std::string e = r["engine"].get<std::string>() + (dev.rfind("cpu", 0) == 0 || dev.empty() ? "" : "@" + dev);
      if (std::find(engines.begin(), engines.end(), e) == engines.end()) engines.push_back(e);
      const std::string row = "| " + r.value("model", "") + " | " + r.value("weights", "") + " | " +
                              std::to_string(r.value("batch", 0)) + " | " + std::to_string(r.value("seq", 0)) + " | " +
                              std::to_string(r.value("threads", 0)) + " |";
      if (!rows.count(row)) row_order.push_back(row);
      rows[row][e] = r["median_ms"].get<double>();
    }
    if (!row_order.empty()) {
      md << (std::string(suite) == "e2e" ? "| model | weights | batch | seq | threads |" : "| model | weights | batch | input | threads |");
      for (const auto& e : engines) md << " " << e << " (ms) |";
      md << "\n|---|---|---|---|---|";
      for (size_t i = 0; i < engines.size(); ++i) md << "---:|";
      md << "\n";
      for (const auto& row : row_order) {
        md << row;
        for (const auto& e : engines) {
          auto it = rows[row].find(e);
          md << " " << (it == rows[row].end() ? "" : fmt(it->second, 2)) << " |";
        }
        md << "\n";
      }
      md << "\n";
    }
  }
  bool any = false;
  for (const auto& r : recs) {
    const std::string s = r.value("suite", "");
    if (s != "gemm" && s != "peak") continue;
    if (!any) md << "| suite | engine | shape | threads | median ms | GOPS | fraction of peak |\n|---|---|---|---|---:|---:|---:|\n";
    any = true;
    md << "| " << s << " | " << r["engine"].get<std::string>() << " | " << r.value("shape", "") << " | "
       << r.value("threads", 0) << " | " << fmt(r["median_ms"].get<double>(), 3) << " | "
       << fmt(r.value("gops", r.value("gmacs", 0.0) * 2), 1) << " | "
       << (r.contains("fraction_of_peak") ? fmt(r["fraction_of_peak"].get<double>(), 2) : "") << " |\n";
  }
  return md.str();
}

}  // namespace rmsmp::bench
