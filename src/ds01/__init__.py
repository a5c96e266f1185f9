"""ds01: resource manager for a shared, multi-user GPU server.

The package is laid out by responsibility (see docs/architecture.md):
config, hardware, policy (pure), state, runtime, cgroups, monitor, service, cli.
Keep this module empty of imports: every CLI start pays for them.
"""

__version__ = "0.1.0"
