"""Which snapshot is live: atomic activation, versions, persistence. Not built yet."""
