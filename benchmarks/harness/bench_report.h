// rmsmp-bench's measurement records and timing discipline.
//
// One record per measured case, printed as one JSON object per line (--json). Fields: engine, suite
// ("e2e" | "gemm" | "peak"), model or shape, batch, seq, threads, device, median_ms, min_ms, max_ms, repeats,
// processes (how many separate processes measured it; the lowest per-process median is kept, `spread` is
// max/min of those medians), and per suite: gops and fraction_of_peak (gemm), gmacs (peak), tokens_per_s (e2e).
#pragma once
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rmsmp::bench {

// Calls fn() `warmup` times, then `repeats` times timed; returns the per-call milliseconds, sorted.
std::vector<double> time_calls(const std::function<void()>& fn, int repeats, int warmup = 1);
double median(std::vector<double> v);

// The source tree (calibration text, benchmarks/ort_bench.py, git SHA): $RMSMP_SOURCE_DIR if set (a copied
// tree on another machine), else the tree this binary was built from.
std::string source_dir();

// Machine/build stamp for every report: cpu model, logical cpus, git SHA (of the source tree at run time).
nlohmann::json machine_stamp();

// Median / min / max of sorted timings into rec (median_ms, min_ms, max_ms, repeats).
void put_timings(nlohmann::json& rec, const std::vector<double>& sorted_ms);

// Merges records of the same case from several processes: keeps the one with the lowest median and adds
// processes and spread (max median / min median). The key is everything except the measured fields.
std::vector<nlohmann::json> merge_processes(const std::vector<nlohmann::json>& recs);

// A Markdown table of e2e and gemm records (one row per case, engines as columns where they share a case).
std::string markdown_table(const std::vector<nlohmann::json>& recs, const nlohmann::json& stamp);

}  // namespace rmsmp::bench
