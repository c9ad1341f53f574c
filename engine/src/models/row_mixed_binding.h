// Binds one row-wise mixed layer ("linears" entry of a model file) to views of the mapped file, validating
// its shape, activation quantizer, row groups, steps and permutation. Shared by the BERT and CNN loaders.
// Also binds row-quantized lookup tables ("tables" entry: the same rows, perm and groups, no bias or act).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "quant/row_mixed.h"

namespace rmsmp {

class ModelFile;

RowMixedLinear bind_row_mixed_linear(const ModelFile& file, const std::string& name, int64_t rows, int64_t cols);

// A row-quantized lookup table (the word embeddings): row r is float(q) * step of its stored row, the same
// dequantization on every backend (lookups run on the host).
struct RowMixedTable {
  struct Slot {
    int32_t group, index;  // the row's group and its position in that group
  };
  RowMixedLinear rows;     // views of the file; bias null, act unused
  std::vector<Slot> slot;  // original row -> stored slot (the inverse of rows.perm)
  bool empty() const { return slot.empty(); }
  // out[0, cols) = row r; scratch: cols bytes.
  void row(int64_t r, int8_t* scratch, float* out) const;
};
RowMixedTable bind_row_mixed_table(const ModelFile& file, const std::string& name, int64_t rows, int64_t cols);

}  // namespace rmsmp
