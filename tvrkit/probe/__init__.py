"""``tvrkit bench``: throughput probes a user runs on their own data and machine, each figure next
to what it is compared with in the same run: the loaders against the JPEG decode floor
(:mod:`tvrkit.probe.loader`) and the trainer's samples/s and data wait (:mod:`tvrkit.probe.train`).
The full benchmark suite (``make bench``) lives outside the package, in ``benchmarks/``."""
