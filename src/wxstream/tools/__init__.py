"""What drives the streaming service and is never imported by it: replay, the demo,
offline forecasts and the benchmark."""
