"""Throughput benchmarks that print each measured rate next to the limit it is compared to."""

from pathlib import Path

# the real MSR-VTT clip the benchmarks use when ../shared/fixtures is present (never copied into the project)
REAL_CLIP = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "videos" / "video7500.mp4"
