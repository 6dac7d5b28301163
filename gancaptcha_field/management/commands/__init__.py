"""Internal. The commands: thin adapters over library code."""
