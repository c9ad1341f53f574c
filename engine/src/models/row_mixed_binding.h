// Binds one row-wise mixed layer ("linears" entry of a model file) to views of the mapped file, validating
// its shape, activation quantizer, row groups, steps and permutation. Shared by the BERT and CNN loaders.
#pragma once
#include <cstdint>
#include <string>

#include "quant/row_mixed.h"

namespace rmsmp {

class ModelFile;

RowMixedLinear bind_row_mixed_linear(const ModelFile& file, const std::string& name, int64_t rows, int64_t cols);

}  // namespace rmsmp
