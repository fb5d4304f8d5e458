"""The failure a connector raises (below both the registry and the connectors)."""
from app.engine import ServiceFailure


class ConnectorError(ServiceFailure):
    """A connector's failure, in Chinese. `retryable`: a later attempt may succeed (timeouts, 5xx)."""

    def __init__(self, message: str, retryable: bool = False):
        super().__init__(message)
        self.retryable = retryable
