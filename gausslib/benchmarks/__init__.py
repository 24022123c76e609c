"""Benchmark modules run by ``make bench``; each exposes ``run(quick: bool) -> list[dict]``."""
