"""What people see: the dashboard, reports, metrics and the exporter. Reads through the service
and the store; never writes state."""
