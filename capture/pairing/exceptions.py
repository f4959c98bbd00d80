"""Domain errors of the QR handoff. Views turn every PairingGone into the one "this code has expired"
page (the reason is logged, never shown); the socket turns it into close code 4403."""


class PairingError(Exception):
    pass


class PairingGone(PairingError):
    """Unknown, expired, declined, already used, or not bound to this browser: all look the same."""

    def __init__(self, reason: str, *, request_id=None):
        super().__init__(reason)
        self.reason = reason
        self.request_id = request_id


class WrongNumber(PairingError):
    """The number picked on the phone is not the one the laptop shows. After the last allowed miss
    the request is dead (`dead`), so a guesser gets at most PAIRING_WRONG_NUMBER_LIMIT tries."""

    def __init__(self, *, attempts_left: int, request_id=None):
        super().__init__("wrong number")
        self.attempts_left = attempts_left
        self.dead = attempts_left <= 0
        self.request_id = request_id


class DeviceNotFound(PairingError):
    pass
