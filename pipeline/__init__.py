"""The top floor: the command line and the end-to-end candidate generator (sample -> decode -> screen -> write)."""
