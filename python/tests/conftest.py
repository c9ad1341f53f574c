"""Shared fixtures: one quantized MiniLM conversion (fixed4, nearest rounding: no calibration) for every test
module of the session."""
import os

import pytest

import rmsmp


def checkpoint():
    ck = os.environ.get("RMSMP_CHECKPOINT_DIR")
    assert ck, "RMSMP_CHECKPOINT_DIR: run through scripts/test.sh, which sets it"
    return ck


@pytest.fixture(scope="session")
def fixed4_path(tmp_path_factory):
    out = tmp_path_factory.mktemp("m") / "fixed4.rmsmp"
    rmsmp.convert(checkpoint(), out, scheme="fixed4", rounding="nearest")
    return out
