"""AssumeRole and session credentials. Not built yet."""
