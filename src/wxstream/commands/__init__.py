"""Click commands, one module per subcommand; assembled lazily by :mod:`wxstream.cli`."""
