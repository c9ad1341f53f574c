/* rmsmp C ABI: load a .rmsmp model, create per-thread contexts, tokenize, embed and classify.
 *
 * Rules:
 * - Opaque handles. A model is read-only once loaded and may be shared by any number of threads; a context
 *   belongs to one thread at a time (create one per thread or per request; they are cheap).
 * - No exception crosses this boundary. Every function that can fail returns an rmsmp_status; on failure
 *   rmsmp_last_error() gives a message for the calling thread (valid until its next rmsmp call).
 * - Output buffers are the caller's: sizes are stated per function and checked against the given capacity.
 * - ABI policy: functions are only added, never changed or removed, within a major version
 *   (RMSMP_C_API_VERSION); structs are never exposed by value.
 */
#ifndef RMSMP_C_H_
#define RMSMP_C_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RMSMP_C_API_VERSION 1

typedef enum {
  RMSMP_OK = 0,
  RMSMP_INVALID_ARGUMENT = 1, /* a caller passed something malformed (null pointer, small buffer) */
  RMSMP_INVALID_FILE = 2,     /* a file exists but is corrupt, truncated or of an unknown version */
  RMSMP_NOT_FOUND = 3,
  RMSMP_IO_ERROR = 4,
  RMSMP_INVALID_TEXT = 5,     /* invalid UTF-8, or over-long text with truncation off */
  RMSMP_UNSUPPORTED = 6,      /* e.g. classify on a model without a head */
  RMSMP_INTERNAL = 7
} rmsmp_status;

typedef struct rmsmp_model rmsmp_model;
typedef struct rmsmp_context rmsmp_context;

int rmsmp_c_api_version(void);
const char* rmsmp_status_name(rmsmp_status s);
/* Message of the calling thread's last failure ("" if none). */
const char* rmsmp_last_error(void);

/* backend: NULL or "cpu" (best ISA), or any name of the backend table (rmsmp/devices.h list_backends()):
   "cpu:generic|avx2|avx512|amx", "reference", "opencl[:P:D]", ... */
rmsmp_status rmsmp_model_load(const char* path, const char* backend, rmsmp_model** out);
void rmsmp_model_free(rmsmp_model* m);
int64_t rmsmp_model_hidden_size(const rmsmp_model* m);    /* the encoder's width */
int64_t rmsmp_model_embedding_size(const rmsmp_model* m); /* floats per embedding (after Dense modules) */
int64_t rmsmp_model_max_seq_length(const rmsmp_model* m);
int rmsmp_model_num_labels(const rmsmp_model* m); /* 0: no classification head */
const char* rmsmp_model_label(const rmsmp_model* m, int i); /* NULL when out of range */

/* threads: 0 = process default, at most 1024 (RMSMP_INVALID_ARGUMENT beyond). max_tokens: 0 = the model's max_seq_length. truncate: 0 = over-long input
 * is an error (RMSMP_INVALID_TEXT), 1 = truncate (reported through *truncated where asked). */
rmsmp_status rmsmp_context_new(const rmsmp_model* m, int threads, int64_t max_tokens, int truncate,
                               rmsmp_context** out);
void rmsmp_context_free(rmsmp_context* c);

/* Token ids the model sees for text (and pair, may be NULL): writes up to capacity ids, sets *n_ids to the
 * count (RMSMP_INVALID_ARGUMENT if capacity is too small; *n_ids then says how many are needed). */
rmsmp_status rmsmp_tokenize(rmsmp_context* c, const char* text, const char* pair, int32_t* ids, size_t capacity,
                            size_t* n_ids, int* truncated);

/* Embeds n texts (pairs may be NULL, or n texts for sentence pairs) into out[n * embedding_size].
 * normalize: -1 as the model says, 0 raw pooled vectors, 1 L2-normalised. */
rmsmp_status rmsmp_embed(rmsmp_context* c, const char* const* texts, const char* const* pairs, size_t n,
                         int normalize, float* out, size_t out_capacity);

/* Logits of the model's classification head for n inputs into out[n * num_labels]. */
rmsmp_status rmsmp_classify(rmsmp_context* c, const char* const* texts, const char* const* pairs, size_t n,
                            float* out, size_t out_capacity);

#ifdef __cplusplus
}
#endif

#endif /* RMSMP_C_H_ */
