"""rmsmp.ray.embed on a local Ray cluster: every row's embedding equals Model.encode's on one machine, bit for
bit (a quantized model), with two actors and batches that split the data unevenly."""
import numpy as np
import pytest
import ray

import rmsmp
import rmsmp.ray


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_embed_dataset_equals_encode(local_ray, fixed4_path, tmp_path):
    path = fixed4_path
    texts = [f"review {i}: the film was {'very ' * (i % 7)}{'good' if i % 3 else 'dull'}" for i in range(203)]
    ds = ray.data.from_items([{"id": i, "text": t} for i, t in enumerate(texts)])
    out = rmsmp.ray.embed(ds, path, concurrency=2, threads=1, batch_size=50).take_all()
    assert len(out) == len(texts)
    want = rmsmp.Model(path).encode(texts)
    for row in out:
        assert row["embedding"].dtype == np.float32
        assert np.array_equal(row["embedding"], want[row["id"]]), row["id"]
    with pytest.raises(rmsmp.Error):
        rmsmp.ray.embed(ds, tmp_path / "missing.rmsmp")
