"""`provenance check` and `provenance badge` (CI gate). Placeholder until the CI work lands."""
