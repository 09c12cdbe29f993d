"""gRPC servicers, health, metrics and decision logs. Not built yet."""
