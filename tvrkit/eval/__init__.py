"""The evaluation stages, built on the retrieval engine (:mod:`tvrkit.retrieval`).

``config`` holds their configs (:class:`~tvrkit.eval.config.EvalConfig` for ``tvrkit eval`` and
``tvrkit export``, :class:`~tvrkit.eval.config.MetricsConfig` for ``tvrkit metrics``); ``run_eval``
(``run_eval``), ``run_metrics`` (``run_metrics``, a saved similarity matrix under the retrieval
protocol) and ``export`` (``run_export``) are the stages; ``outputs`` writes metrics.json,
metrics.md, ranks.parquet and plots; ``report`` and ``pairs`` the HTML report and the order-pair
accuracy.
"""
