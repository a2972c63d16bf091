"""Command-line entry points (``visionssm`` console command, ``tools/*.py`` wrappers)."""
