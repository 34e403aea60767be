"""The served interest model: what a full refresh fits and writes as ``INTERESTED_IN``.

Graph and features (``graph_build``, ``features``), the text-fed GCN (``propagation``, ``gcn``,
``training``), the closed-form blend terms (``baselines``, ``filters``, ``sequence``), item
neighbourhoods (``neighbourhood``), scoring (``scores``, ``parallel``), the blend and its choice
(``blend``), and the fit and serve functions (``interest_model``). The validation carve
(``splits``) and the ranking metrics (``metrics``) live here because the fit itself uses them;
the benchmark reuses them from :mod:`..evaluation`.

May import ``interest_graph`` and ``interest_workers.typing``; never another ``pipelines``
sub-package.
"""
