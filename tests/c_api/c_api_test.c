/* The C ABI, from C: load, contexts, tokenize, embed, classify and every documented failure. The expected
 * logits are the Hugging Face transformers goldens of tests/data/tiny_classifier (golden_logits.json).
 * Usage: c_api_test TINY_CLASSIFIER_FP32.rmsmp     Exit status 0 when every check passes. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rmsmp/rmsmp_c.h"

static int failures = 0;
#define CHECK(cond)                                                           \
  do {                                                                        \
    if (!(cond)) {                                                            \
      fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__, __LINE__, #cond, rmsmp_last_error()); \
      ++failures;                                                             \
    }                                                                         \
  } while (0)

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s MODEL.rmsmp\n", argv[0]);
    return 2;
  }
  const char* texts[5] = {"the movie was good !", "not fun , the plot was dull .", "great", "the movie", "a great play"};
  const char* pairs[5] = {NULL, NULL, NULL, "it was very bad .", "not good"};
  const float want[5][3] = {{-0.944013238f, 0.139396831f, -0.211811155f},
                            {-0.738941252f, 0.204467461f, -0.297210395f},
                            {-1.07972884f, 0.0474475026f, -0.294163853f},
                            {-0.274744093f, 0.333074749f, -0.057275027f},
                            {-0.785973132f, 0.207435951f, 0.13931115f}};
  CHECK(rmsmp_c_api_version() == RMSMP_C_API_VERSION);

  rmsmp_model* m = NULL;
  CHECK(rmsmp_model_load("/nonexistent/model.rmsmp", NULL, &m) == RMSMP_NOT_FOUND);
  CHECK(m == NULL);
  CHECK(strstr(rmsmp_last_error(), "/nonexistent/model.rmsmp") != NULL);
  CHECK(rmsmp_model_load(argv[1], "cpu:nope", &m) == RMSMP_INVALID_ARGUMENT);
  CHECK(rmsmp_model_load(argv[1], NULL, &m) == RMSMP_OK);
  if (!m) return 1;
  CHECK(strcmp(rmsmp_last_error(), "") == 0);
  CHECK(rmsmp_model_hidden_size(m) == 32);
  CHECK(rmsmp_model_embedding_size(m) == 32);
  CHECK(rmsmp_model_num_labels(m) == 3);
  CHECK(strcmp(rmsmp_model_label(m, 2), "positive") == 0);
  CHECK(rmsmp_model_label(m, 3) == NULL);

  rmsmp_context* c = NULL;
  CHECK(rmsmp_context_new(m, -1, 0, 1, &c) == RMSMP_INVALID_ARGUMENT);
  CHECK(rmsmp_context_new(m, 100000, 0, 1, &c) == RMSMP_INVALID_ARGUMENT); /* libgomp crashed on it before */
  CHECK(rmsmp_context_new(m, 1, 0, 1, &c) == RMSMP_OK);
  if (!c) return 1;

  /* Classify: pairs[] has NULLs, so single sentences and pairs go in two calls. */
  float logits[15];
  CHECK(rmsmp_classify(c, texts, NULL, 3, logits, 15) == RMSMP_OK);
  CHECK(rmsmp_classify(c, texts + 3, pairs + 3, 2, logits + 9, 6) == RMSMP_OK);
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 3; ++j) CHECK(fabsf(logits[i * 3 + j] - want[i][j]) < 1e-5f);
  CHECK(rmsmp_classify(c, texts, NULL, 3, logits, 8) == RMSMP_INVALID_ARGUMENT);  /* 9 floats needed */

  /* Embed: raw vs normalised rows point the same way; normalised rows have unit length. */
  float raw[64], unit[64];
  CHECK(rmsmp_embed(c, texts, NULL, 2, 0, raw, 64) == RMSMP_OK);
  CHECK(rmsmp_embed(c, texts, NULL, 2, 1, unit, 64) == RMSMP_OK);
  for (int r = 0; r < 2; ++r) {
    double n = 0, d = 0, nu = 0;
    for (int i = 0; i < 32; ++i) n += raw[r * 32 + i] * raw[r * 32 + i], d += raw[r * 32 + i] * unit[r * 32 + i],
                                 nu += unit[r * 32 + i] * unit[r * 32 + i];
    CHECK(fabs(nu - 1.0) < 1e-5);
    CHECK(fabs(d / sqrt(n) - 1.0) < 1e-5);
  }
  CHECK(rmsmp_embed(c, texts, NULL, 2, 7, raw, 64) == RMSMP_INVALID_ARGUMENT);

  /* Tokenize: ids as transformers gave them; too small a buffer says how many are needed. */
  int32_t ids[16];
  size_t n = 0;
  int truncated = -1;
  CHECK(rmsmp_tokenize(c, "the movie was good !", NULL, ids, 16, &n, &truncated) == RMSMP_OK);
  CHECK(n == 7 && truncated == 0 && ids[0] == 2 && ids[1] == 5 && ids[6] == 3);
  CHECK(rmsmp_tokenize(c, "the movie was good !", NULL, ids, 3, &n, NULL) == RMSMP_INVALID_ARGUMENT);
  CHECK(n == 7);
  CHECK(rmsmp_tokenize(c, "bad \xff utf-8", NULL, ids, 16, &n, NULL) == RMSMP_INVALID_TEXT);
  CHECK(strstr(rmsmp_last_error(), "UTF-8") != NULL);

  /* Truncation off: an over-long input is an error, not silently cut. */
  rmsmp_context* strict = NULL;
  CHECK(rmsmp_context_new(m, 0, 5, 0, &strict) == RMSMP_OK);
  CHECK(rmsmp_embed(strict, texts, NULL, 1, -1, raw, 64) == RMSMP_INVALID_TEXT);
  CHECK(strstr(rmsmp_last_error(), "item 0") != NULL);
  rmsmp_context_free(strict);

  /* A null context. */
  CHECK(rmsmp_classify(NULL, texts, NULL, 1, logits, 15) == RMSMP_INVALID_ARGUMENT);
  CHECK(strcmp(rmsmp_status_name(RMSMP_UNSUPPORTED), "unsupported") == 0);

  rmsmp_context_free(c);
  rmsmp_model_free(m);
  if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
  else printf("c_api_test: all checks passed\n");
  return failures ? 1 : 0;
}
