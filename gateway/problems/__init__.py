"""Problems (work orders): lists, detail with history, reporting one (which starts problem handling)."""
