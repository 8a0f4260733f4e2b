"""The sync queue: durable events between staging and the workers."""
