"""NaN or Inf is named as such: the tensor of a checkpoint's weights, the rows of the features
being ranked; never blamed on the matmul's precision."""

from __future__ import annotations

import pytest
import torch

from tvrkit.errors import StageError
from tvrkit.retrieval.model_source import check_finite_weights
from tvrkit.retrieval.ranking import stream_rank


def test_nan_weights_name_the_tensor_and_file():
    weights = {"head.weight": torch.ones(3, 4), "temporal.bias": torch.tensor([0.0, float("nan"), float("inf")]),
               "steps": torch.tensor(3)}
    with pytest.raises(StageError, match=r"run/last\.pt: the weights hold NaN or Inf: temporal\.bias \(2 of 3"):
        check_finite_weights(weights, "run/last.pt")
    check_finite_weights({"head.weight": torch.ones(3, 4)}, "ok.pt")


@pytest.mark.parametrize("where", ["query", "gallery"])
def test_nan_features_are_named_before_ranking(where):
    queries, gallery = torch.randn(6, 8), torch.randn(50, 8)
    (queries if where == "query" else gallery)[4, 2] = float("nan")
    with pytest.raises(StageError, match=f"1 {where} feature row.* NaN or Inf \\(e.g. row 4\\)") as err:
        stream_rank(queries, gallery, k=3, targets=torch.arange(6), block_size=16)
    assert "precise" not in str(err.value)
