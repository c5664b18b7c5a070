"""Errors of the end-to-end generator (all are :class:`slices.errors.SlicesError`, so the CLI reports them cleanly)."""

from __future__ import annotations

from slices.errors import SlicesError


class PipelineError(SlicesError):
    """Bad arguments or unusable inputs for ``slices generate`` / :func:`pipeline.generate.generate`."""


class RunMismatchError(PipelineError):
    """The output folder holds a run made with different settings, so its finished work cannot be reused."""
