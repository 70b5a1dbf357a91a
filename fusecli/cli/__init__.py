"""The ``fusecli`` command line: one thin module per subcommand."""
