"""The shard stage: decoded frames -> LMDB or WebDataset shards + manifests (``run_shard``), and ``verify``."""
