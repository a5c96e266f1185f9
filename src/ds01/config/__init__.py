"""The one YAML policy file: loading and validation (``loader``), plain types (``model``),
sizes and durations (``units``)."""
