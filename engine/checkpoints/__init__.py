"""GenLoupe."""
