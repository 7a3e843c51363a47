"""`python -m specc.cli`: the `specc` command."""

from .app import main

main()
