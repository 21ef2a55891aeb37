"""Golden numbers for ``model.method: tmass``, produced by the official T-MASS code.

The official code (github:Jiamian-Wang/T-MASS-text-video-retrieval at 417fdf1) is not part of tvrkit
and is never imported by it: this script runs it from a separate checkout, in an environment with its
own dependencies (transformers 4.30.2 as its README pins; scipy and tqdm for ``modules/metrics.py``)::

    python -m venv /tmp/tmass-venv
    /tmp/tmass-venv/bin/pip install torch transformers==4.30.2 scipy tqdm
    /tmp/tmass-venv/bin/python tools/tmass_golden.py tiny --official CHECKOUT --out tests/fixtures/methods/tmass
    /tmp/tmass-venv/bin/python tools/tmass_golden.py vit-b32 --official CHECKOUT --out /tmp/tmass-b32
    .venv/bin/python tools/tmass_golden.py check --out /tmp/tmass-b32   # tvrkit's side of the held-out check

``tiny`` writes the test fixture: a seeded random tiny Hugging Face ``CLIPModel`` inside the official
``CLIPStochastic`` with perturbed heads, saved by the official ``Trainer._save_checkpoint``
(``model_best.pth``), and ``golden.pt``: the inputs; ``cos(text, pool(video | text))``; the radius
``log_var`` of every (video, text) pair; two runs of the official ``Trainer._valid_epoch_step`` (fresh
draws, recorded, and a fixed bank of draws injected), each with the trial choice it made and the matrix
its metrics read; and one training step's losses with the draw it took. ``vit-b32`` writes a random
ViT-B/32 checkpoint and its deterministic scores for the held-out check, which ``check`` runs through
``tvrkit.models.load_checkpoint`` with the shipped ``msrvtt-tmass-vit-b32`` recipe.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import types
from pathlib import Path

import torch

SEED = 0
TINY_ARCH = {  # the tiny CLIP in open_clip's terms, for tvrkit's side
    "embed_dim": 64,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "head_width": 32, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 512, "width": 64, "heads": 2, "layers": 2},
}
TEXT_VIDEO = [0, 1, 2, 3, 4, 0, 2, 2]  # caption -> video: video 2 has 3 captions, 1, 3, 4 one
TRAIN_PAIRS = 5  # captions 0..4 with videos 0..4: the training batch


def official_config(out: Path, embed_dim: int, frames: int, size: int, trials: int) -> types.SimpleNamespace:
    """The attributes ``config/all_config.py`` would give for the README's MSR-VTT command."""
    return types.SimpleNamespace(
        clip_arch="ViT-B/32", embed_dim=embed_dim, num_frames=frames, input_res=size, num_mha_heads=1,
        transformer_dropout=0.3, stochasic_trials=trials, support_loss_weight=0.8, stochastic_prior="uniform01",
        stochastic_prior_std=1.0, pooling_type="transformer", model_path=str(out), num_epochs=5, log_step=10,
        evals_per_epoch=10, eval_window_size=5, DSL=False, save_memory_mode=False, batch_size_split=None,
        noloss_record=True, skip_eval=False, clip_lr=1e-6, noclip_lr=3e-5, weight_decay=0.2)


def build(official: Path, clip_config, cfg: types.SimpleNamespace):
    """The official ``CLIPStochastic`` around a seeded random CLIPModel, heads perturbed off their
    identity initialisation (so that a wrong mapping cannot pass), and the official optimiser."""
    sys.path.insert(0, str(official))
    import transformers
    from model.clip_stochastic import CLIPStochastic
    from modules.optimization import AdamW

    torch.manual_seed(SEED)
    clip = transformers.CLIPModel(clip_config)
    transformers.CLIPModel.from_pretrained = classmethod(lambda cls, name: clip)  # no download
    model = CLIPStochastic(cfg)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if not name.startswith("clip."):
                param.add_(0.1 * torch.randn_like(param))
        model.clip.logit_scale.fill_(3.2)
    groups = [{"params": [p for n, p in model.named_parameters() if "clip." in n], "lr": cfg.clip_lr},
              {"params": [p for n, p in model.named_parameters() if "clip." not in n], "lr": cfg.noclip_lr}]
    return model, AdamW(groups, weight_decay=cfg.weight_decay)


def make_inputs(vocab: int, length: int, videos: int, frames: int, size: int, captions: list[int]) -> dict:
    g = torch.Generator().manual_seed(SEED + 1)
    tokens = torch.zeros(len(captions), length, dtype=torch.long)
    for i in range(len(captions)):
        words = 1 + (3 * i) % (length - 2)
        tokens[i, 0] = vocab - 2
        tokens[i, 1 : 1 + words] = torch.randint(1, vocab - 2, (words,), generator=g)
        tokens[i, 1 + words] = vocab - 1
    video = torch.randn(videos, frames, 3, size, size, generator=g)
    return {"tokens": tokens, "frames": video, "text_video": torch.tensor(captions)}


def batches(inputs: dict, size: int) -> list[dict]:
    """The official test loader's items: (caption, its video) pairs in caption order."""
    out = []
    for s in range(0, len(inputs["tokens"]), size):
        tokens = inputs["tokens"][s : s + size]
        vids = inputs["text_video"][s : s + size]
        out.append({"text": {"input_ids": tokens, "attention_mask": (tokens != 0).long()},
                    "video": inputs["frames"][vids], "video_id": [f"v{int(v)}" for v in vids]})
    return out


def run_validation(model, optimizer, cfg, inputs: dict, bank: torch.Tensor | None) -> dict:
    """The official ``Trainer._valid_epoch_step`` on CPU: the uniform draws it takes are recorded (or,
    with ``bank [trials, D]``, the trial draws are replaced by the bank, the same for every video and
    text); returns the draws, its trial choice and the matrix its metrics receive."""
    import trainer.trainer_stochastic as ts
    from modules.loss import CLIPLoss
    from modules.metrics import t2v_metrics

    torch.nn.Module.cuda = lambda self, *a, **k: self  # the trainer moves modules to the GPU and back
    seen: dict = {"draws": []}
    rand_like = torch.rand_like
    loader = batches(inputs, 4)

    def drawing(x, *a, **k):
        after_loader = len(seen["draws"]) - len(loader)
        if bank is not None and after_loader >= 0:
            value = bank[after_loader % len(bank)].expand_as(x).clone()
        else:
            value = rand_like(x, *a, **k)
        seen["draws"].append(value)
        return value

    def grouping(allpairs, pooled, ids, pooling):
        seen["allpairs"], seen["pooled"] = allpairs.clone(), pooled.clone()
        return generate(allpairs, pooled, ids, pooling)

    def metrics(sims):
        seen["leak"] = sims.clone()
        return t2v_metrics(sims)

    generate = ts.generate_embeds_per_video_id_stochastic
    ts.generate_embeds_per_video_id_stochastic = grouping
    torch.rand_like = drawing
    try:
        trainer = ts.Trainer(model, CLIPLoss(), metrics, optimizer, cfg, None, loader, None)
        trainer._valid_epoch_step(0, 0, 0)
    finally:
        torch.rand_like = rand_like
        ts.generate_embeds_per_video_id_stochastic = generate
    trial_draws = torch.stack(seen["draws"][len(loader):])  # [V * trials, Nt, D], video-major
    videos = seen["pooled"].shape[0]
    allpairs, pooled = seen["allpairs"], seen["pooled"]
    chosen = (allpairs * pooled / pooled.norm(dim=-1, keepdim=True)).sum(-1)  # [V, Nt]; allpairs are unit
    return {"draws": trial_draws.reshape(videos, -1, *trial_draws.shape[1:]), "honest": chosen.T.contiguous(),
            "leak": seen["leak"], "trainer": trainer}


def encode(model, inputs: dict, cfg) -> tuple[torch.Tensor, torch.Tensor]:
    tokens = inputs["tokens"]
    text = model.clip.get_text_features(input_ids=tokens, attention_mask=(tokens != 0).long())
    frames = inputs["frames"].reshape(-1, 3, cfg.input_res, cfg.input_res)
    video = model.clip.get_image_features(frames).reshape(len(inputs["frames"]), cfg.num_frames, -1)
    return text, video


def deterministic_parts(model, inputs: dict, cfg) -> dict:
    """X-Pool's ``sim_matrix_training(text, pool_frames(text, video))`` and the radius of every pair."""
    from modules.metrics import sim_matrix_training

    model.eval()
    with torch.no_grad():
        text, video = encode(model, inputs, cfg)
        pooled = model.pool_frames(text, video)
        det = sim_matrix_training(text, pooled, "transformer")
        log_var = torch.stack([model.stochastic.std_branch(text, v[None].expand(len(text), -1, -1)) for v in video])
    return {"deterministic": det, "log_var": log_var}


def training_step(model, inputs: dict, cfg) -> dict:
    """One ``Trainer._train_epoch`` loss on the first TRAIN_PAIRS pairs, pooling dropout off, as the
    official code computes it (the draw it takes is recorded with its seed)."""
    from modules.loss import CLIPLoss
    from modules.metrics import sim_matrix_training

    model.train()
    model.pool_frames.dropout.p = 0.0
    rows = list(range(TRAIN_PAIRS))
    tokens = inputs["tokens"][rows]
    data = {"text": {"input_ids": tokens, "attention_mask": (tokens != 0).long()},
            "video": inputs["frames"][inputs["text_video"][rows]]}
    loss_fn = CLIPLoss()
    with torch.no_grad():
        torch.manual_seed(123)
        expected_draw = torch.rand(TRAIN_PAIRS, cfg.embed_dim)
        torch.manual_seed(123)
        text_embeds, pooled, stochastic, mean, log_var = model(data, is_train=True)
        draw = (stochastic - mean) / torch.exp(log_var)
        loss = loss_fn(sim_matrix_training(stochastic, pooled, "transformer"), model.clip.logit_scale)
        pointer = torch.mean(pooled, dim=1).squeeze() - text_embeds
        support = pointer / pointer.norm(dim=-1, keepdim=True) * torch.exp(log_var) + text_embeds
        loss_support = loss_fn(sim_matrix_training(support, pooled, "transformer"), model.clip.logit_scale)
    assert torch.allclose(draw, expected_draw, atol=1e-4), "the official forward consumed random numbers first"
    model.eval()
    return {"seed": 123, "rows": torch.tensor(rows), "loss": loss, "loss_support": loss_support,
            "loss_all": loss + cfg.support_loss_weight * loss_support}


def tiny(official: Path, out: Path) -> None:
    import transformers

    out.mkdir(parents=True, exist_ok=True)
    clip_config = transformers.CLIPConfig(
        text_config={"vocab_size": 512, "hidden_size": 64, "intermediate_size": 256, "num_hidden_layers": 2,
                     "num_attention_heads": 2, "max_position_embeddings": 77, "hidden_act": "quick_gelu"},
        vision_config={"hidden_size": 64, "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 2,
                       "image_size": 32, "patch_size": 8, "hidden_act": "quick_gelu"},
        projection_dim=64)
    with tempfile.TemporaryDirectory() as logs:
        cfg = official_config(Path(logs), embed_dim=64, frames=4, size=32, trials=5)
        model, optimizer = build(official, clip_config, cfg)
        inputs = make_inputs(512, 16, 5, 4, 32, TEXT_VIDEO)
        golden = {"inputs": inputs, "trials": cfg.stochasic_trials, **deterministic_parts(model, inputs, cfg)}
        fresh = run_validation(model, optimizer, cfg, inputs, bank=None)
        bank = torch.rand(cfg.stochasic_trials, cfg.embed_dim, generator=torch.Generator().manual_seed(7))
        banked = run_validation(model, optimizer, cfg, inputs, bank=bank)
        golden["fresh"] = {k: fresh[k] for k in ("draws", "honest", "leak")}
        golden["bank"] = {"bank": bank, **{k: banked[k] for k in ("honest", "leak")}}
        golden["train"] = training_step(model, inputs, cfg)
        fresh["trainer"].checkpoint_dir = str(out)
        fresh["trainer"]._save_checkpoint(1, save_best=True)
    torch.save(golden, out / "golden.pt")
    (out / "tmass-tiny.json").write_text(json.dumps(TINY_ARCH, indent=4) + "\n")


def vit_b32(official: Path, out: Path) -> None:
    """A random ViT-B/32 T-MASS checkpoint, 6 captions x 4 videos of 12 frames at 224 px."""
    import transformers

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as logs:
        cfg = official_config(Path(logs), embed_dim=512, frames=12, size=224, trials=20)
        model, optimizer = build(official, transformers.CLIPConfig(), cfg)
        inputs = make_inputs(49408, 32, 4, 12, 224, [0, 1, 2, 3, 0, 2])
        golden = {"inputs": inputs, **deterministic_parts(model, inputs, cfg)}
        from trainer.base_trainer import BaseTrainer

        trainer = types.SimpleNamespace(model=model, optimizer=optimizer, checkpoint_dir=str(out))
        BaseTrainer._save_checkpoint(trainer, 0, save_best=True)
    torch.save(golden, out / "golden.pt")


def check(out: Path) -> None:
    """tvrkit's side: the held-out ViT-B/32 checkpoint through the shipped recipe."""
    from tvrkit.models import load_checkpoint

    golden = torch.load(out / "golden.pt")
    model = load_checkpoint(out / "model_best.pth", config="msrvtt-tmass-vit-b32")
    inputs = golden["inputs"]
    mask = torch.ones(inputs["frames"].shape[:2], dtype=torch.bool)
    with torch.no_grad():
        text, video = model.encode_text(inputs["tokens"]), model.encode_video(inputs["frames"], mask)
        ours = model.score(text, video)["deterministic"]
        log_var = model.radius(text.sentence, video.frames, video.frame_mask)
    official = golden["deterministic"]
    span = float(official.max() - official.min())
    print(f"deterministic: largest deviation {float((ours - official).abs().max()) / span:.2e} of the range "
          f"{span:.4f}; same ranking: {torch.equal(ours.argsort(1), official.argsort(1))}")
    radius = golden["log_var"].transpose(0, 1)
    print(f"log_var: largest deviation {float((log_var - radius).abs().max()):.2e} (range "
          f"{float(radius.max() - radius.min()):.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["tiny", "vit-b32", "check"])
    parser.add_argument("--official", type=Path, help="checkout of the official T-MASS code")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.what == "check":
        check(args.out)
    else:
        (tiny if args.what == "tiny" else vit_b32)(args.official.resolve(), args.out)


if __name__ == "__main__":
    main()
