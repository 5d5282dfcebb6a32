"""The compensation methods (赔付方式): one code each, with its label."""

from __future__ import annotations

from kesu.web.i18n import N_

METHODS: dict[str, str] = {
    "refund": N_("退款"),
    "replacement": N_("换货"),
    "repair": N_("维修"),
    "cash": N_("现金补偿"),
    "coupon": N_("优惠券"),
    "points": N_("积分"),
}
# Methods paid in money (the ledger sums them as CNY); the others carry a value in CNY too.
MONEY_METHODS = frozenset({"refund", "cash"})
