"""The SSH adapter: log in to an FMC, read its facts, manage its host key."""
