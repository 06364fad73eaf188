"""Qt views and item models over numpy arrays. No torch."""
