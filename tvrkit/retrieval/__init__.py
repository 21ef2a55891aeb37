"""The retrieval engine that ``eval`` and ``search`` both build on: embedding into a feature store,
blocked ranking, coarse-to-fine re-scoring through the method's scorer, post-processing and metrics."""
