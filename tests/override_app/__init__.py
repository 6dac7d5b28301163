"""An app whose widget template overrides the packaged one (tests only)."""
