"""`provenance blame` (surviving share). Placeholder until the blame work lands."""
