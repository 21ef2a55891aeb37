"""``tvrkit train`` from a URL root served by ``http.server`` on 127.0.0.1: the server killed
mid-run makes the run save a checkpoint and exit 1 naming the URL within a bounded time, and
``--resume`` with the server back finishes with the weights of an uninterrupted run."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
import torch
import yaml
from repo_paths import REPO
from train_data import synthetic_root, tiny_config, train_past_first_step

from benchmarks.servers import http_server
from tvrkit.train import load_train_config, run_train
from tvrkit.train.checkpoint import LAST, load_training_state

EPOCHS, BATCHES = 2, 3


@pytest.mark.slow
def test_server_killed_mid_run_checkpoints_names_the_url_and_resume_finishes(tmp_path, monkeypatch,
                                                                           one_thread) -> None:
    root = synthetic_root(tmp_path / "served" / "root")
    server = http_server(root.parent).start()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TVRKIT_CACHE": str(tmp_path / "cache")}
    monkeypatch.setenv("TVRKIT_CACHE", env["TVRKIT_CACHE"])
    doc = tiny_config(server.url + "/root", data={"retry_seconds": 2.0}, train={"epochs": EPOCHS})
    try:
        full = run_train(load_train_config(base=doc), tmp_path / "full")
        assert full["status"] == "completed" and full["step"] == EPOCHS * BATCHES

        config = tmp_path / "c.yaml"
        config.write_text(yaml.safe_dump(doc))
        out = tmp_path / "run"
        proc, cmd = train_past_first_step(config, out, env)
        server.stop()
        killed_at = time.monotonic()
        output = proc.communicate(timeout=120)[0].decode()
        assert proc.returncode == 1, output
        assert time.monotonic() - killed_at < 120
        assert f"{server.url}/root/shards/wds/" in output
        saved = load_training_state(out / "checkpoints" / LAST)["train_state"]["step"]
        assert 1 <= saved < EPOCHS * BATCHES

        server.start()
        done = subprocess.run(cmd + ["--resume"], cwd=REPO, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        a = load_training_state(tmp_path / "full" / "checkpoints" / LAST)["model"]
        b = load_training_state(out / "checkpoints" / LAST)["model"]
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6)
    finally:
        server.stop()
