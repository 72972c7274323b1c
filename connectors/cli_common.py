"""What every `tomo` command shares: the consoles and loading settings."""

from __future__ import annotations

import typer
from pydantic import ValidationError
from rich.console import Console

from connectors.settings import Settings

out = Console()
err = Console(stderr=True)


def load_settings() -> Settings:
    """Settings from the environment; a bad value exits with the variable named."""
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors()
        )
        err.print(f"設定が正しくありません (environment): {problems}")
        raise typer.Exit(2) from error
