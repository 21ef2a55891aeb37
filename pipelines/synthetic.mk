# The demo pipeline on the built-in synthetic dataset (no downloads, CPU, minutes):
# generate + compress -> shard -> train seqTransf (CONFIG) and meanP -> eval both and the
# untrained model -> print the comparison table and the report paths; index the test videos
# for `tvrkit search` / `tvrkit serve` and print how search agrees with eval.
DATASET := synthetic
N_VIDEOS ?= 400
SEED     ?= 0
CONFIG   ?= tvrkit/configs/demo.yaml
PREPARE_ARGS ?= --videos $(N_VIDEOS) --seed $(SEED)
include $(dir $(lastword $(MAKEFILE_LIST)))common.mk

# The order-blind twin of the main run, and the untrained model it must beat 10x.
MEANP_OUT     := $(OUT)-meanP
MEANP_TRAINED := $(MEANP_OUT)/summary.json
MEANP_EVAL    := $(MEANP_OUT)/eval/metrics.json
UNTRAINED_EVAL := $(OUT)-untrained/eval/metrics.json
SEARCH_INDEX  := $(OUT)/search-index/index.summary.json

.PHONY: demo
all: demo
demo: $(EVALUATED) $(MEANP_EVAL) $(UNTRAINED_EVAL) $(SEARCH_INDEX) ## both heads + baseline, the table, search
	$(PY) -m tvrkit.demo seqTransf=$(OUT)/eval meanP=$(MEANP_OUT)/eval untrained=$(OUT)-untrained/eval \
		--baseline untrained
	$(PY) -m tvrkit.search.synthetic report --root $(ROOT) --index $(OUT)/search-index --eval $(OUT)/eval

# Search: the test split's videos, indexed with the trained model (`tvrkit serve` shows them).
$(SEARCH_INDEX): $(TRAINED)
	$(PY) -m tvrkit.search.synthetic link --root $(ROOT) --split test --out $(OUT)/search-videos
	$(TVRKIT) index --videos $(OUT)/search-videos --out $(OUT)/search-index --checkpoint $(OUT)/checkpoints/best.pt

$(MEANP_TRAINED): $(SHARDED) $(CONFIG)
	$(TORCHRUN) --nproc_per_node $(NPROC) -m tvrkit train --config $(CONFIG) --out $(MEANP_OUT) --resume \
		--set data.root=$(ROOT) --set data.format=$(FORMAT) --set model.clip4clip.temporal.type=meanP $(TRAIN_ARGS)

$(MEANP_EVAL): $(MEANP_TRAINED) $(EVALUATED)
	$(TVRKIT) eval --checkpoint $(MEANP_OUT)/checkpoints/best.pt --out $(MEANP_OUT)/eval --compare $(OUT)/eval \
		$(EVAL_ARGS)

# No checkpoint: eval scores the config's freshly initialised model (seeded), the untrained baseline.
$(UNTRAINED_EVAL): $(SHARDED) $(CONFIG)
	$(TVRKIT) eval --model-config $(CONFIG) --set data.root=$(ROOT) --set data.format=$(FORMAT) \
		--out $(OUT)-untrained/eval $(EVAL_ARGS)

# Every published method x COMPARE_SEEDS paired seeds under the demo's protocol (tiny model, CONFIG's data,
# budget COMPARE_STEPS steps): COMPARE_OUT/compare.{json,md,html}. `make compare` runs it.
COMPARE_OUT   ?= runs/compare
COMPARE_STEPS ?= 120
COMPARE_SEEDS ?= 3
.PHONY: compare
compare: $(SHARDED) ## every published method x COMPARE_SEEDS seeds on this data (tvrkit compare)
	$(TVRKIT) compare --config $(CONFIG) --set data.root=$(ROOT) --set data.format=$(FORMAT) \
		--set train.steps=$(COMPARE_STEPS) --seeds $(COMPARE_SEEDS) --out $(COMPARE_OUT)
