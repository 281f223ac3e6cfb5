"""Developer tools: ``python -m tools.sidebyside`` writes the side-by-side pages."""
