// rmsmp-convert: argument parsing for the converter library (converters/convert.h).
#include <cstring>
#include <iostream>

#include "common/cli.h"
#include "convert_command.h"
#include "rmsmp/error.h"

namespace {

const char* kHelp = R"(rmsmp-convert: convert a Hugging Face BERT checkpoint, or a torchvision-style CNN state dict,
into one packed .rmsmp model file.

usage: rmsmp-convert --in HF_DIR --out FILE [options]                 (BERT family)
       rmsmp-convert --in CHECKPOINT.pth|.safetensors --out FILE [options] [vision options]

  --in DIR            checkpoint folder: config.json, model.safetensors, and vocab.txt, tokenizer.json,
                      vocab.json + merges.txt or a SentencePiece .model (sentence-transformers files, if
                      present, set pooling modes, Dense modules, normalisation, max length). model_type
                      bert, distilbert, roberta, xlm-roberta, camembert or mpnet, each with or without a
                      sequence-classification head (cross-encoders);
                      weights from model.safetensors, or pytorch_model.bin when that is all there is
  --out FILE          output model (written to a temp file, then renamed: no partial output on failure)
  --scheme S          rmsmp (default) | layerwise | random | a scheme of the table for every row:
                      {SCHEMES}
                        rmsmp:     per-row Fixed-8 by Hessian score, Fixed-4 vs PoT-4 by --scheme-rule
                        layerwise: whole most-sensitive layers at Fixed-8 (rest Fixed-4), same 8-bit budget
                        random:    the --ratios counts per layer, rows drawn with a fixed seed
  --ratios R          pot4=0.65,fixed4=0.30,fixed8=0.05 (default; same ratio in every layer), or
                      auto with --fpga-part NAME: the ratio that balances the PoT-4 LUT core and the Fixed DSP core
                      on that FPGA (rmsmp-fpga's cost model; 5% Fixed-8), recorded in the file's provenance
  --fpga-part NAME    FPGA for --ratios auto: xc7z020 | xc7z045 | xczu9eg (--device NAME: its older name)
  --calib FILE        calibration text: one sentence per line, or a 'sentence<TAB>label' TSV. Used by rmsmp,
                      layerwise, --act-bits 4 and gptq rounding; when those need it and --calib is absent, the
                      shipped data/calib/text.txt (1,000 UCI Yelp review sentences, CC BY 4.0; or the file in
                      $RMSMP_DEFAULT_CALIB). Must not overlap evaluation data.
  --calib-n N         use at most the first N calibration sentences (default: all)
  --act-bits 8|4      8: dynamic per-token int8 activations (default); 4: static per-layer clip (MSE) from
                      calibration, the paper's W4A4 setting
  --clip mse|max|hessian
                      per-row weight clip: MSE-optimal grid search (default), max|w| (paper-style), or hessian:
                      the MSE clip, then each row's step among 0.8-1.2x of it by the layer-output error e^T H e
                      of its rounding (needs gptq rounding; MiniLM SST-2 dev cosine 0.9608 vs mse's 0.9619)
  --scheme-rule R     variance (default, paper) | variance-inverted (ablation) | hessian
  --allocation A      uniform (default, paper): the --ratios in every layer, the hardware's one layout per layer;
                      global (rmsmp): the Fixed-8 rows ranked across all layers by 4-bit error per weight, same
                      total 8-bit budget, each layer's other rows split Fixed-4 : PoT-4 in the ratios' proportion
  --rounding R        gptq: error-compensated rounding through the calibration Hessian (GPTQ/OBQ); every
                            row keeps its scheme and step, so the packed layout is the same. Needs --calib.
                      nearest: each weight to its nearest level.
                      Default: gptq when --calib is given, nearest otherwise (the header records which)
  --seed N            seed of the random baseline (default 20211011)
  --embeddings E      word-embedding table, a scheme of the table: {SCHEMES}.
                      Rows are quantized per row with --clip (one step each) and dequantized per token on
                      lookup. Default: fixed4, fixed8 for
                      --scheme fixed8, fp32 for --scheme fp32 (which allows only fp32). MiniLM-L6's fp32 table
                      is 47 of its 90 MB; with fixed4 the default model is 13.1 MB.
  --max-seq-length N  longest input the model accepts, [CLS]/[SEP] included (default: the sentence-transformers
                      limit, else max_position_embeddings; at most max_position_embeddings)
  --export-plan P     also write the conversion's rows (scheme, step and value of every row, and the fp32
                      tensors) as a QAT plan: the starting point of converters/train/qat_encoder.py (text
                      models) or converters/train/qat_cnn.py (vision models: also each conv's bias and
                      activation clip)
  --plan P            take every row's scheme, step and value from a QAT plan (the trainer's output) and its
                      fp32 tensors over the checkpoint's (vision: each conv's bias and activation clip); packs
                      it bit-exactly, with no assignment, calibration or rounding of its own (format:
                      converters/qat_plan.h)
  --report FILE       write the conversion report (JSON): rows per scheme and score statistics per layer,
                      average bits, file bytes, converter seconds
  --quiet             no progress on stderr

vision options (when --in is a .pth/.pt/.safetensors file):
  --arch NAME         resnet18 | resnet34 | resnet50 | resnet20 | efficientnet-lite0 (default: inferred from the
                      tensor names and shapes; an explicit name is checked against them). BatchNorm is folded
                      into the preceding conv; a conv row is one output channel.
  --calib-images P    calibration images: a folder (.jpg/.png, recursive, sorted) or an IDX image file (.gz ok,
                      e.g. Fashion-MNIST's train-images-idx3-ubyte.gz). Needed by rmsmp, layerwise,
                      --act-bits 4, gptq rounding and bias correction. Default for RGB models: the 61 photos of
                      scripts/photos.sh's calib/ folder once it has run, or $RMSMP_DEFAULT_CALIB_IMAGES (set
                      and empty: none); then
                      gptq rounding is the default too. Must not overlap evaluation data.
  --calib-n N         use at most the first N calibration images (default 64)
  --labels FILE       class names, one per line in logit order (e.g. data/images/imagenet_classes.txt),
                      stored in the model for rmsmp-run classify
  --pin-first-last P  fixed8 (default; or another integer scheme of the table): the stem conv and the
                      classifier keep that scheme's weights and 8-bit activations whatever the scheme;
                      none: the scheme applies to them too
  --bias-correction B on (default): when --calib-images are given, each quantized conv's bias absorbs the
                      mean shift of its weight error, b -= (W_q - W) E[x], E[x] its mean input over those
                      images (EfficientNet-Lite0, 109 photos: top-1 agreement with fp32 40% -> 57%); off
  --act-bits 8|4      8: per-tensor dynamic int8 activations (default); 4: static per-layer clip (MSE) from the
                      calibration images; both use the unsigned grid where the input follows a ReLU
  --act-range R       vision, 8-bit: static (the default when the conversion calibrates on images: one clip
                      per layer, the largest |x| over the calibration images; the engine then hands int8 from
                      conv to conv instead of re-quantizing each output) or dynamic (each tensor's own max at
                      run time; the default without calibration images)
)";


}  // namespace

int main(int argc, char** argv) {
  if (rmsmp::cli::version_requested(argc, argv, "rmsmp-convert")) return 0;
  using namespace rmsmp;
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::cout << cli::with_table_names(kHelp);
    return argc < 2 ? 2 : 0;
  }
  try {
    const nlohmann::json rep = convert_command(argc, argv);
    std::cout << rep["model"].dump() << "\n";
    return 0;
  } catch (const Error& e) {
    std::cerr << "rmsmp-convert: error: " << e.what() << "\n";
    return e.code() == ErrorCode::InvalidArgument ? 2 : 1;
  } catch (const std::exception& e) {
    std::cerr << "rmsmp-convert: error: " << e.what() << "\n";
    return 1;
  }
}
