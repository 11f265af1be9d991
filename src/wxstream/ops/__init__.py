"""Read-only views of a running pipeline: ``status``, ``tail`` and forecast verification."""
