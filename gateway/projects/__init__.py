"""Projects: register, update, import, list, detail; signing starts their life cycle."""
