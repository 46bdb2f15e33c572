"""Why a delivery failed, and whether trying again can help.

DeliveryError
├── RetryableDelivery   the peer is down, slow, or asks us to come back (5xx, 429, SMTP 4xx)
└── PermanentDelivery   retrying cannot help (4xx, refused credentials, bad configuration)
"""

from __future__ import annotations


class DeliveryError(Exception):
    """A notification did not reach its channel; the message says why, for the delivery log."""

    retryable = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RetryableDelivery(DeliveryError):
    retryable = True


class PermanentDelivery(DeliveryError):
    retryable = False
