"""Makefiles for the `make -j` tests and the benchmark: one phony target per recipe."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def write_makefile(directory: Path, recipes: Mapping[str, str]) -> Path:
    """DIRECTORY/Makefile whose `all` runs each target's one-line recipe; `make -jN` runs them at
    once. Recipes are written as given ($$ for a shell's $)."""
    targets = " ".join(recipes)
    rules = "".join(f"{target}:\n\t{recipe}\n" for target, recipe in recipes.items())
    path = directory / "Makefile"
    path.write_text(f".PHONY: all {targets}\nall: {targets}\n{rules}")
    return path
