# Shared stage rules for every dataset pipeline: prepare -> shard -> train -> eval.
# A dataset fragment sets DATASET (and any defaults) and includes this file. Each target is the
# stage's summary file, written last by the stage, so `make` re-runs only what is missing or stale.
#
# Variables (override on the command line):
#   ROOT    dataset root (catalog, compressed videos, shards)     default data/$(DATASET)
#   VIDEOS  folder with the raw videos (real datasets)            required for prepare
#   CONFIG  train config                     default tvrkit/configs/$(DATASET)-clip4clip-meanp-vit-b32.yaml
#   NPROC   torchrun processes per node (DDP; gloo on CPU)         default 1
#   OUT     run directory (checkpoints, logs, eval)                default runs/$(DATASET)
#   FORMAT  shard format: wds or lmdb                              default wds
#   WORKERS parallel ffmpeg / shard processes                      default 2
#   PY      python with tvrkit installed                           default .venv/bin/python

PY       ?= .venv/bin/python
TVRKIT   ?= $(PY) -m tvrkit
TORCHRUN ?= $(PY) -m torch.distributed.run --standalone
ROOT     ?= data/$(DATASET)
VIDEOS   ?=
CONFIG   ?= tvrkit/configs/$(DATASET)-clip4clip-meanp-vit-b32.yaml
NPROC    ?= 1
OUT      ?= runs/$(DATASET)
FORMAT   ?= wds
WORKERS  ?= 2
# What `tvrkit prepare` needs besides the root; real datasets need the raw videos.
PREPARE_ARGS ?= --videos-dir "$(VIDEOS)"
TRAIN_ARGS   ?=
EVAL_ARGS    ?=

PREPARED := $(ROOT)/prepare.summary.json
SHARDED  := $(ROOT)/shards/$(FORMAT)/summary.json
TRAINED  := $(OUT)/summary.json
EVALUATED := $(OUT)/eval/metrics.json

.PHONY: all prepare shard train eval help
all: eval ## prepare -> shard -> train -> eval
prepare: $(PREPARED) ## annotations -> catalog, raw videos -> compressed/
shard: $(SHARDED) ## compressed videos -> shards + manifest
train: $(TRAINED) ## train CONFIG (torchrun with NPROC processes)
eval: $(EVALUATED) ## evaluate the best checkpoint on the test split

help:
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(PREPARED):
	$(PREPARE_CHECK)
	$(TVRKIT) prepare $(DATASET) --root $(ROOT) --workers $(WORKERS) $(PREPARE_ARGS)

$(SHARDED): $(PREPARED)
	$(TVRKIT) shard --root $(ROOT) --format $(FORMAT) --workers $(WORKERS)

# --resume makes an interrupted `make train` continue from the run's last checkpoint.
$(TRAINED): $(SHARDED) $(CONFIG)
	$(TORCHRUN) --nproc_per_node $(NPROC) -m tvrkit train --config $(CONFIG) --out $(OUT) --resume \
		--set data.root=$(ROOT) --set data.format=$(FORMAT) $(TRAIN_ARGS)

$(EVALUATED): $(TRAINED)
	$(TVRKIT) eval --checkpoint $(OUT)/checkpoints/best.pt --out $(OUT)/eval $(EVAL_ARGS)
