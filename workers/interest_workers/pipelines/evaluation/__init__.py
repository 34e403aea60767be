"""The offline benchmark: "ours" beside tuned peers on a temporal or fixed split.

``evaluation`` (the protocol), ``tuning`` (each baseline's grid on the validation carve),
``peers`` (implicit's ALS and BPR, cornac's Mult-VAE) and ``lightgcn`` (PyG's LightGCN trained as
its paper does). Only the benchmark uses this package (``interestgraph evaluate``,
``benchmarks/``): the refresh never imports it.

May import :mod:`..model`; nothing else in ``pipelines`` imports it.
"""
