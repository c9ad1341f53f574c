// The registry of encoder families (hf_family.h).
#include "hf_family.h"

#include "rmsmp/error.h"

namespace rmsmp {

const HfFamily& hf_distilbert_family();  // hf_distilbert.cc
const HfFamily& hf_mpnet_family();       // hf_mpnet.cc

const std::vector<const HfFamily*>& hf_families() {
  static const std::vector<const HfFamily*> all = {&hf_bert_family(), &hf_distilbert_family(), &hf_roberta_family(),
                                                   &hf_mpnet_family()};
  return all;
}

const HfFamily& hf_family(const std::string& model_type, const std::string& where) {
  std::string names;
  for (const HfFamily* f : hf_families())
    for (const std::string& t : f->model_types) {
      if (t == model_type) return *f;
      names += (names.empty() ? "" : ", ") + t;
    }
  RMSMP_FAIL(ErrorCode::Unsupported, where << ": model_type '" << model_type << "' is not supported (" << names << ")");
}

}  // namespace rmsmp
