"""People who log in, and the units they belong to."""
