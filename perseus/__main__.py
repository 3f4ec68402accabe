"""``python -m perseus`` runs the CLI."""

from perseus.cli import main

main()
