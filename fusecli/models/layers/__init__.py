"""Building blocks shared by the learned fusion models."""
