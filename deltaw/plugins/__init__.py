"""deltaw's built-in plugins: each module registers itself through the public hooks."""
