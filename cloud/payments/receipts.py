"""Numbered receipts (收据): one per payment, red (negative) for a reversal, never deleted.

Numbers run per site and calendar year (site-local) without gaps: ``DEMO-2026-000123``. The
next number comes from the ``receipt_counters`` row of the site and year, locked with
SELECT … FOR UPDATE on PostgreSQL (SQLite serialises writing transactions anyway), inside the
payment's transaction: a payment that rolls back gives its number back, so no gap appears.
A receipt keeps what it showed (``body``) so a reprint years later is the same paper.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from html import escape
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.db.models import Site
from cloud.payments.tables import Receipt, ReceiptCounter

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL = ("", "拾", "佰", "仟")
_BIG = ("", "万", "亿", "万亿")
METHOD_ZH = {"cash": "现金", "card": "银行卡", "wechat": "微信支付", "alipay": "支付宝",
             "bank_transfer": "银行转账", "prepaid": "预存款"}


def _four(n: int) -> str:
    """0 < n < 10000 in capitals, with 零 for inner zeros (``1010`` → 壹仟零壹拾)."""
    out, zero = "", False
    for pos in range(3, -1, -1):
        d = n // 10**pos % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += _DIGITS[d] + _SMALL[pos]
    return out


def capital_yuan(amount: Decimal) -> str:
    """An amount in Chinese capital numerals as written on receipts (大写金额).

    ``123.45`` → 壹佰贰拾叁元肆角伍分; ``100`` → 壹佰元整; ``10.05`` → 壹拾元零伍分;
    ``0.50`` → 伍角; negative amounts (red receipts) start with 负.
    """
    value = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "负" if value < 0 else ""
    fen_total = int(abs(value) * 100)
    yuan, jiao, fen = fen_total // 100, fen_total // 10 % 10, fen_total % 10
    if fen_total == 0:
        return "零元整"
    text = ""
    if yuan:
        groups: list[int] = []
        rest = yuan
        while rest:
            groups.append(rest % 10000)
            rest //= 10000
        need_zero = False
        for idx in range(len(groups) - 1, -1, -1):
            g = groups[idx]
            if g == 0:
                need_zero = bool(text)
                continue
            if text and (need_zero or g < 1000):
                text += "零"
            text += _four(g) + _BIG[idx]
            need_zero = False
        text += "元"
    if jiao == 0 and fen == 0:
        return sign + text + "整"
    if jiao:
        text += _DIGITS[jiao] + "角"
    elif yuan:
        text += "零"
    if fen:
        text += _DIGITS[fen] + "分"
    return sign + text


async def next_number(session: AsyncSession, site: Site, year: int) -> tuple[int, str]:
    """The next receipt sequence and number of ``site`` in ``year`` (locks the counter)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(insert(ReceiptCounter).values(site_id=site.id, year=year, last=0)
                          .on_conflict_do_nothing(index_elements=["site_id", "year"]))
    counter = (await session.execute(
        select(ReceiptCounter).where(ReceiptCounter.site_id == site.id,
                                     ReceiptCounter.year == year)
        .with_for_update().execution_options(populate_existing=True))).scalar_one()
    counter.last += 1
    await session.flush()
    return counter.last, f"{site.slug.upper()}-{year}-{counter.last:06d}"


async def issue_receipt(session: AsyncSession, *, site: Site, payment_id: int, unit_id: int,
                        amount: Decimal, body: dict[str, Any], issued_by: str, now: datetime,
                        year: int, reverses: str | None = None) -> Receipt:
    seq, number = await next_number(session, site, year)
    receipt = Receipt(site_id=site.id, number=number, year=year, seq=seq, payment_id=payment_id,
                      unit_id=unit_id, amount=amount, red=amount < 0, reverses_number=reverses,
                      body={**body, "number": number, "amount": str(amount),
                            "amount_capital": capital_yuan(amount), "reverses": reverses},
                      issued_by=issued_by[:100], issued_at=now)
    session.add(receipt)
    await session.flush()
    return receipt


def receipt_json(receipt: Receipt) -> dict[str, Any]:
    return {**receipt.body, "number": receipt.number, "site_id": receipt.site_id,
            "payment_id": receipt.payment_id, "amount": str(receipt.amount),
            "red": receipt.red, "reverses": receipt.reverses_number,
            "issued_by": receipt.issued_by, "issued_at": receipt.issued_at.isoformat()}


def receipt_html(receipt: Receipt) -> str:
    """A printable receipt page in zh-CN (the paper a resident takes home); styles and the
    print button are static files. Fee items by name, the method in words, no codes."""
    b = receipt.body
    e = escape
    rows = "".join(
        f"<tr><td>{e(str(ln.get('bill', '')))}</td><td>{e(str(ln.get('period', '')))}</td>"
        f"<td>{e(str(ln.get('fee_name') or ln.get('fee_code', '')))}</td>"
        f"<td class=num>{e(str(ln.get('amount', '')))}</td></tr>"
        for ln in b.get("lines", []))
    if Decimal(str(b.get("to_balance", "0"))) != 0:
        rows += (f"<tr><td colspan=3>存入预存款</td>"
                 f"<td class=num>{e(str(b['to_balance']))}</td></tr>")
    title = "红字收据" if receipt.red else "收据"
    reverses = (f"<p class=red>冲销收据 {e(receipt.reverses_number)}，原因："
                f"{e(str(b.get('reason') or ''))}</p>" if receipt.reverses_number else "")
    method = str(b.get("method", ""))
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>{e(receipt.number)} {title}</title>
<link rel="stylesheet" href="/finance/static/finance.css">
<script src="/finance/static/receipt.js" defer></script></head>
<body class="receipt{' red' if receipt.red else ''}">
<h1>{e(str(b.get('site_name', '')))} {title}</h1>
<p>编号 <strong>{e(receipt.number)}</strong> · 日期 {e(str(b.get('date', '')))}</p>
{reverses}
<p>房屋 {e(str(b.get('unit', '')))} · 交款人 {e(str(b.get('payer') or '—'))}</p>
<p>收款方式 {e(METHOD_ZH.get(method, method))} · 凭证号 {e(str(b.get('reference') or '—'))}</p>
<table><thead><tr><th>账单</th><th>账期</th><th>收费项目</th>
<th class=num>金额（元）</th></tr></thead><tbody>{rows}</tbody></table>
<p class=total>合计（大写）<strong>{e(capital_yuan(receipt.amount))}</strong>
 · 小写 ¥{e(str(receipt.amount))}</p>
<p>收款人 {e(receipt.issued_by)}</p>
<p class=noprint><button type=button id=print>打印</button></p>
</body></html>
"""
