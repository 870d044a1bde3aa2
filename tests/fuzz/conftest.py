"""The atheris harness is run by hand (see README.md), never collected by pytest."""

collect_ignore = ["fuzz_tokens.py"]
