"""Throughput benchmarks that print each measured rate next to the limit it is compared to."""

from pathlib import Path

# the real MSR-VTT clip the benchmarks use when ../shared/fixtures is present (never copied into the project);
# parents[2]: the folder that holds the checkout and shared/
REAL_CLIP = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "videos" / "video7500.mp4"
