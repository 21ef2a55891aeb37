"""The retrieval engine that ``eval`` and ``search`` both build on: the model a run scores with and
its identity (``model_source``), embedding into a feature store (``embed``, ``store``), blocked
ranking (``ranking``), coarse-to-fine re-scoring through the method's scorer (``coarse_fine``,
``scorer``), post-processing (``postprocess``, ``level_post``), metrics and frame strips."""
