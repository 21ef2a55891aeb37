"""``tvrkit search INDEX "text"``: opens the index (:func:`tvrkit.search.open_index`) and
prints :meth:`~tvrkit.search.query.SearchIndex.search`'s hits as a table or JSON."""

from __future__ import annotations

import click


@click.command("search", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("index_dir", metavar="INDEX", type=click.Path(file_okay=False))
@click.argument("query")
@click.option("--k", "k", type=int, default=10, show_default=True, help="Videos to return.")
@click.option("--rerank-topk", type=click.IntRange(min=1), default=100, show_default=True,
              help="The model's fine levels re-score the global top K (models with fine levels only).")
@click.option("--checkpoint", type=click.Path(dir_okay=False),
              help="Query with this checkpoint (must be the one the index was built with).")
@click.option("--model-config", type=click.Path(dir_okay=False), help="Query with this train config's model.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def search(index_dir: str, query: str, k: int, rerank_topk: int, checkpoint: str | None, model_config: str | None,
           as_json: bool) -> None:
    """Top-K videos of INDEX for QUERY, with scores and the best-matching moment (seconds)."""
    from tvrkit.search import open_index
    from tvrkit.search.serialize import result_json, result_table

    result = open_index(index_dir, checkpoint=checkpoint, model_config=model_config).search(query, k, rerank_topk)
    click.echo(result_json(result) if as_json else result_table(result))
