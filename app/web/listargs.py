"""The query parameters of a list page's GET form, as a person filled them in."""
from __future__ import annotations


def query_args(args) -> dict:
    """The non-empty parameters, stripped (a GET form sends its empty fields too), without per_page:
    a page's size is the configuration's."""
    return {k: v.strip() for k, v in args.items() if isinstance(v, str) and v.strip() and k != "per_page"}
