"""Corpus-scale embedding on Ray Data: one rmsmp Model per actor, batches of texts in, float32 rows out.

    import ray, rmsmp.ray
    ds = ray.data.read_text("corpus.txt")                         # a "text" column, one row per line
    ds = rmsmp.ray.embed(ds, "minilm.rmsmp", concurrency=8)        # adds an "embedding" column (float32)
    ds.write_parquet("s3://bucket/embeddings/")

Each actor loads the model file once (every node needs the file at that path, or pass a shared filesystem path)
and runs `threads` OpenMP threads; size `concurrency x threads` to the cluster's cores. Quantized models give
the same bits as Model.encode on one machine, whatever the batching and the actor that ran a row.
"""
from __future__ import annotations

import os
from typing import Optional

from . import Model


class _Embedder:
    """The actor: loads the model once, embeds each batch's text column."""

    def __init__(self, path: str, text_column: str, output_column: str, threads: int, normalize: Optional[bool],
                 batch_size: int):
        self.model = Model(path, threads=threads)
        self.text_column, self.output_column = text_column, output_column
        self.normalize, self.batch_size = normalize, batch_size

    def __call__(self, batch):
        texts = batch[self.text_column]
        batch[self.output_column] = self.model.encode([str(t) for t in texts], batch_size=self.batch_size,
                                                      normalize=self.normalize)
        return batch


def embed(ds, model_path, text_column: str = "text", output_column: str = "embedding", concurrency: int = 1,
          threads: int = 1, batch_size: int = 256, normalize: Optional[bool] = None):
    """Returns `ds` with `output_column` added: each row's embedding (float32, embedding_size) of `text_column`.

    concurrency: actors (model copies); threads: OpenMP threads per actor (Ray reserves as many CPUs per actor).
    batch_size: rows per Ray batch (the engine sorts each batch by length and packs it without padding).
    """
    path = os.fspath(model_path)
    Model(path)  # fail here, naming the file, rather than inside every actor
    return ds.map_batches(_Embedder, batch_size=batch_size, batch_format="numpy", concurrency=concurrency,
                          num_cpus=max(1, threads),
                          fn_constructor_args=(path, text_column, output_column, threads, normalize, min(batch_size, 64)))


def main(argv=None):
    """python -m rmsmp.ray IN OUT_DIR --model M: embeds a corpus (JSONL, Parquet, or plain text: one row per
    line) into Parquet files in OUT_DIR, with the input's columns and an "embedding" column. --address joins a
    running cluster (default: a local one)."""
    import argparse
    import ray

    ap = argparse.ArgumentParser(prog="python -m rmsmp.ray", description=main.__doc__)
    ap.add_argument("input", help=".jsonl/.json, .parquet, or a text file (one text per line)")
    ap.add_argument("output", help="folder for the Parquet files")
    ap.add_argument("--model", required=True)
    ap.add_argument("--column", default="text", help="the text column (plain text files have 'text')")
    ap.add_argument("--actors", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1, help="OpenMP threads per actor")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--address", default=None, help="Ray cluster address ('auto': the running one)")
    a = ap.parse_args(argv)
    ray.init(address=a.address, log_to_driver=False, configure_logging=False)
    src = a.input
    if src.endswith((".jsonl", ".json")):
        ds = ray.data.read_json(src)
    elif src.endswith(".parquet"):
        ds = ray.data.read_parquet(src)
    else:
        ds = ray.data.read_text(src)
    embed(ds, a.model, text_column=a.column, concurrency=a.actors, threads=a.threads,
          batch_size=a.batch_size).write_parquet(a.output)
    ray.shutdown()


if __name__ == "__main__":
    main()
