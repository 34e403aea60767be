"""The workers' pure computations (no store, no broker), by concern.

* :mod:`.model`: the served interest model: graph, text features, GCN, closed-form terms, the
  blend, its fit on a validation carve and its scores. Imports no sibling.
* :mod:`.segments`: interest segments (space, clustering, quality, briefs). Imports no sibling.
* :mod:`.value`: customer value (RFM, BG/NBD + Gamma-Gamma, churn). Imports no sibling.
* :mod:`.evaluation`: the offline benchmark and the peers it compares with; imports
  :mod:`.model`, never the reverse. Only the benchmark (``interestgraph evaluate``,
  ``benchmarks/``) uses it; the refresh does not.
* :mod:`.artefacts`: the saved output of a full refresh (model, segments, value); imports
  :mod:`.model` and :mod:`.segments`.

``tests/unit/test_layout.py`` checks these directions.
"""
