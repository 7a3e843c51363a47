"""`python -m specc`: the `specc` command."""

from .cli.app import main

main()
