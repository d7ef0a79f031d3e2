"""Live events (Server-Sent Events) from the Redis stream, filtered by what the caller may see."""
