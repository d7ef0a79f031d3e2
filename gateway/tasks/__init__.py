"""The task inbox: user tasks from the store (filled by the inbox worker), completed with CompleteJob."""
