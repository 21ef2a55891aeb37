"""Training curves of a run: ``curves.png`` beside ``train_log.jsonl`` (always) and, with
``train.tensorboard: true``, TensorBoard's own event files in ``OUT/tensorboard/``.

``curves.png`` has four panels over optimizer steps: the training loss (total, and each level's
when there are several), the learning rate of each parameter group, the gradient norm (before
clipping; the backbone's and the heads' too when the log has them) and the validation R@1 of the
selection split, the best step marked. It is drawn from ``train_log.jsonl`` alone, so
:func:`write_curves` redraws any run's curves, also one that was killed; the run's log redraws it
after each validation, so a long run's curves can be watched as it trains.

TensorBoard is what open_clip, torchtune and the Hugging Face Trainer write: the same scalars go
to ``torch.utils.tensorboard`` (the ``tensorboard`` package, ``pip install 'tvrkit[tensorboard]'``),
and on resume the events after the checkpoint's step are purged, as the JSONL log's records are.
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tvrkit.errors import ConfigError
from tvrkit.fsutil import atomic_path
from tvrkit.train.jsonlog import JsonlLog, read_log

CURVES_FILE = "curves.png"
TENSORBOARD_DIR = "tensorboard"
GRAD_NORM_KEYS = ("grad_norm", "grad_norm_backbone", "grad_norm_head")

Series = dict[str, list[tuple[int, float]]]  # label -> (step, value) points


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def train_scalars(record: Mapping[str, Any]) -> dict[str, float]:
    """The finite scalars of one log record, by TensorBoard tag (``loss/total``, ``loss/LEVEL``,
    ``logit_scale/LEVEL``, ``lr/GROUP``, ``grad_norm/total|backbone|head``, ``val/R@1``, ...); the first
    part of a tag is its panel. Records other than train and eval give none."""
    out: dict[str, Any] = {}
    if record.get("type") == "train":
        out["loss/total"] = record.get("loss")
        for name, value in (record.get("losses") or {}).items():
            if name != "loss":  # the total again
                # a model's parts also carry its temperature (logit_scale...): not a loss
                out[name if name.startswith("logit_scale") else "loss/" + name.removeprefix("loss/")] = value
        out.update({f"lr/{group}": v for group, v in (record.get("lr") or {}).items()})
        out.update({"grad_norm/" + (k.removeprefix("grad_norm_") if k != "grad_norm" else "total"): record.get(k)
                    for k in GRAD_NORM_KEYS})
        out["throughput/samples_per_s"] = record.get("samples_per_s")
        out["throughput/data_wait"] = record.get("data_wait")
    elif record.get("type") == "eval":
        out.update({f"val/{name}": v for name, v in (record.get("metrics") or {}).items()
                    if name.startswith(("R@", "MdR", "MnR"))})
    return {tag: float(v) for tag, v in out.items() if _finite(v)}


def _merge_identical(series: Series) -> Series:
    """One line for series with the same points (parameter groups sharing a rate, a single level's
    loss equal to the total), labelled by all their names, or by ``total`` when it is one of them."""
    merged: dict[tuple[tuple[int, float], ...], list[str]] = {}
    for label, points in series.items():
        merged.setdefault(tuple(points), []).append(label)
    return {("total" if "total" in labels else ", ".join(labels)): list(points) for points, labels in merged.items()}


def curve_series(records: Iterable[Mapping[str, Any]]) -> dict[str, Series]:
    """The points of each panel of ``curves.png``: ``loss``, ``lr``, ``grad_norm``, ``val`` (panel ->
    label -> points); non-finite values (a skipped step's norm) are left out."""
    panels: dict[str, Series] = {name: defaultdict(list) for name in ("loss", "lr", "grad_norm", "val")}
    for record in records:
        step = record.get("step")
        if not isinstance(step, int):
            continue
        for tag, value in train_scalars(record).items():
            panel, _, label = tag.partition("/")
            if panel in ("loss", "lr", "grad_norm"):
                panels[panel][label].append((step, value))
            elif tag == "val/R@1":
                panels["val"][f"{record.get('split') or 'validation'} t2v R@1"].append((step, value))
    return {name: _merge_identical(series) for name, series in panels.items()}


_TITLES = {"loss": ("training loss", "loss"), "lr": ("learning rate", "lr"),
           "grad_norm": ("gradient norm (before clipping)", "L2 norm"), "val": ("validation R@1", "R@1 (%)")}


def write_curves(run_dir: str | os.PathLike[str], log_name: str = "train_log.jsonl") -> Path | None:
    """Draw ``RUN/curves.png`` from ``RUN/train_log.jsonl`` (atomically); None when the log has no
    training record yet. A panel without data says so instead of staying blank."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    run = Path(run_dir)
    panels = curve_series(read_log(run / log_name))
    if not panels["loss"]:
        return None
    fig = Figure(figsize=(11, 7), layout="constrained")
    FigureCanvasAgg(fig)
    for ax, (name, series) in zip(fig.subplots(2, 2).flat, panels.items(), strict=True):
        title, ylabel = _TITLES[name]
        ax.set(title=title, xlabel="optimizer step", ylabel=ylabel)
        ax.grid(True, alpha=0.3)
        for label, points in sorted(series.items(), key=lambda kv: kv[0] != "total"):
            steps, values = zip(*points, strict=True)
            main = label == "total" or len(series) == 1
            ax.plot(steps, values, label=label, marker="o" if name == "val" or len(points) == 1 else None,
                    linewidth=1.8 if main else 1.0, alpha=1.0 if main else 0.8)
            if name == "val":
                best = max(range(len(values)), key=values.__getitem__)
                ax.plot(steps[best], values[best], marker="*", markersize=14, color="tab:red", linestyle="none",
                        label=f"best {values[best]:.1f} at step {steps[best]}")
        peaks = [max(v for _, v in points) for points in series.values()]
        if name == "lr" and peaks and min(peaks) > 0 and max(peaks) > 10 * min(peaks):
            ax.set_yscale("log", nonpositive="mask")  # the backbone's rate is often 1000x below the heads'
        if series:
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "not in this run's log" if name != "val" else "no validation in this run",
                    ha="center", va="center", transform=ax.transAxes, color="0.4")
    fig.suptitle(f"training curves: {run.name}")
    with atomic_path(run / CURVES_FILE, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    return run / CURVES_FILE


def run_curves(checkpoint: str | os.PathLike[str]) -> Path | None:
    """The ``curves.png`` of the run that wrote ``checkpoint`` (``OUT/checkpoints/X.pt`` ->
    ``OUT/curves.png``), None when there is none (an official checkpoint, an older run)."""
    path = Path(checkpoint)
    curves = path.parent.parent / CURVES_FILE
    return curves if path.parent.name == "checkpoints" and curves.is_file() else None


class CurvesLog(JsonlLog):
    """The run's JSONL log that also keeps its curves: ``curves.png`` is redrawn after each
    validation record and, with ``tensorboard``, every record's scalars go to TensorBoard."""

    def __init__(self, path: str | os.PathLike[str], enabled: bool, tensorboard: bool = False) -> None:
        super().__init__(path, enabled)
        if tensorboard and importlib.util.find_spec("tensorboard") is None:
            raise ConfigError("train.tensorboard: true needs the tensorboard package: "
                              "pip install 'tvrkit[tensorboard]' (or set train.tensorboard=false)")
        self.tensorboard = tensorboard and enabled
        self._writer: Any = None
        self._purge_step: int | None = None

    def truncate_after(self, step: int) -> None:
        """Drop records (and TensorBoard events) after ``step``: those steps are trained again."""
        super().truncate_after(step)
        self._purge_step = step + 1

    def write(self, record: dict[str, Any]) -> None:
        super().write(record)
        if self.tensorboard:
            scalars = train_scalars(record)
            if scalars:
                writer = self._tensorboard()
                for tag, value in scalars.items():
                    writer.add_scalar(tag, value, record["step"])
                writer.flush()
        if self.enabled and record.get("type") == "eval":
            write_curves(self.path.parent, self.path.name)

    def _tensorboard(self) -> Any:
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(self.path.parent / TENSORBOARD_DIR), purge_step=self._purge_step)
        return self._writer

    def close(self) -> Path | None:
        """Close TensorBoard's writer and draw the final ``curves.png`` (its path, or None)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        return write_curves(self.path.parent, self.path.name) if self.enabled else None
