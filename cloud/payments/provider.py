"""The payment-provider interface: how online payment (WeChat Pay, Alipay, UnionPay…) plugs in.

Today every payment is recorded by staff at the desk (``RecordedProvider``): the money has
already changed hands — cash, a card slip, a WeChat/Alipay transaction shown on the payer's
phone, a bank transfer — and the console only records it with its reference number. An
online provider will create an order for a payer to pay, verify the provider's signed
callback and record the payment through the same ``record_payment`` path (the provider's
transaction id as the idempotency key, so a callback delivered twice pays once), and refund.
No online provider is implemented yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from cloud.payments.tables import PAYMENT_METHODS


@dataclass(frozen=True, slots=True)
class Order:
    """A payment the payer is asked to make online."""

    order_id: str
    amount: Decimal
    #: Where the payer pays: a QR-code URL or an app deep link (None when offline).
    pay_url: str | None


@dataclass(frozen=True, slots=True)
class Confirmed:
    """A verified notice from the provider that an order was paid."""

    order_id: str
    transaction_id: str
    amount: Decimal
    method: str


class ProviderError(Exception):
    """The provider refused or cannot do what was asked."""


class PaymentProvider(Protocol):
    """One way money comes in; ``methods`` are the payment methods it handles."""

    methods: tuple[str, ...]

    async def create_order(self, *, site: str, unit: str, amount: Decimal,
                           description: str, idempotency_key: str) -> Order: ...

    async def verify_callback(self, headers: Mapping[str, str], body: bytes) -> Confirmed: ...

    async def refund(self, *, transaction_id: str, amount: Decimal, reason: str) -> str: ...


class RecordedProvider:
    """Payments taken by staff and recorded: nothing to create, verify or refund online."""

    methods: tuple[str, ...] = PAYMENT_METHODS

    async def create_order(self, *, site: str, unit: str, amount: Decimal,
                           description: str, idempotency_key: str) -> Order:
        """The order is the payment itself: it is paid at the desk, no URL to pay at."""
        del site, unit, description
        return Order(order_id=idempotency_key, amount=amount, pay_url=None)

    async def verify_callback(self, headers: Mapping[str, str], body: bytes) -> Confirmed:
        del headers, body
        raise ProviderError("recorded payments have no provider callbacks")

    async def refund(self, *, transaction_id: str, amount: Decimal, reason: str) -> str:
        """Money goes back by hand; the console records it as a reversal (红冲)."""
        del transaction_id, amount, reason
        raise ProviderError("refund recorded payments by reversing them "
                            "(POST /api/payments/{id}/reverse)")


def provider_for(method: str) -> PaymentProvider:
    """The provider that handles ``method`` (only recorded ones exist today)."""
    if method in PAYMENT_METHODS:
        return RecordedProvider()
    raise ProviderError(f"no provider for payment method {method!r}")
