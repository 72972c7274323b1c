"""The conversation core."""
