"""The crontopus command-line client."""
