"""The one error of the contract: a payload that does not follow it, with the field named."""

from __future__ import annotations


class ContractError(ValueError):
    """A payload that does not follow the contract; ``field`` names what is wrong."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason
