"""The command line: argument parsing, the caller's identity, output (text/JSON), exit codes.
The only layer that prints."""
