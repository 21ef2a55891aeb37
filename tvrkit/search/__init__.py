"""Search your own videos: ``tvrkit index`` (a folder -> an index), ``tvrkit search`` and
``tvrkit serve`` (a page and a JSON API), all with the models tvrkit trains.

In a notebook::

    from tvrkit.search import open_index
    index = open_index("runs/my-library")
    for hit in index.search("a dog catches a frisbee", k=5).hits:
        print(hit.name, hit.score, hit.moment.start, hit.moment.end)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tvrkit.search.query import SearchIndex


def open_index(path: str | Path, checkpoint: str | None = None, model_config: str | None = None,
               device: str = "cpu") -> SearchIndex:
    """Open the index at ``path`` with the model it was built with (``checkpoint`` /
    ``model_config`` must name that same model when given: another one is refused)."""
    from tvrkit.search.query import SearchIndex

    return SearchIndex(path, checkpoint=checkpoint, model_config=model_config, device=device)


__all__ = ["open_index"]
