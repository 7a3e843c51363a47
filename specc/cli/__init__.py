"""The `specc` command line: thin Typer layers over the API."""

from .app import app, main

__all__ = ["app", "main"]
