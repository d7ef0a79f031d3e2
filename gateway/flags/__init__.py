"""Yellow flags by unit, with their reason and period."""
