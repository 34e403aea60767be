"""Array and tensor aliases shared by the pipelines (in the spirit of ``torch_geometric.typing``)."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt
from torch import Tensor

#: ``(N, D)`` float32 matrix: embeddings, features.
FloatArray: TypeAlias = npt.NDArray[np.float32]
#: float64 arrays: the segment space's coordinates, shares and profiles.
DoubleArray: TypeAlias = npt.NDArray[np.float64]
#: ``(N,)`` integer vector of node indices.
IndexArray: TypeAlias = npt.NDArray[np.int64]
#: ``(2, E)`` long tensor of ``(source, target)`` node indices.
EdgeIndex: TypeAlias = Tensor
#: ``(E,)`` float tensor of edge weights.
EdgeWeight: TypeAlias = Tensor

__all__ = ["DoubleArray", "EdgeIndex", "EdgeWeight", "FloatArray", "IndexArray", "Tensor"]
