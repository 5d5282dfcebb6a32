"""The UI language: Chinese by default, English on request.

Source strings are Chinese; ``kesu/locale/en/LC_MESSAGES/messages.po`` holds the English.
The locale of a request comes from the ``lang`` cookie (set by the switch link), then from
Accept-Language, then from ``Settings.default_locale``. It lives in a context variable so the
shared Jinja2 environment and the Python code of a view both translate for the right request,
whichever thread renders it.
"""

from __future__ import annotations

from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

from babel.support import NullTranslations, Translations
from fastapi import Request

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DEFAULT_LOCALE = "zh_CN"
SUPPORTED = ("zh_CN", "en")
COOKIE = "lang"

_current: ContextVar[str] = ContextVar("kesu_locale", default=DEFAULT_LOCALE)


@lru_cache
def translations(locale: str) -> NullTranslations:
    if locale == DEFAULT_LOCALE:
        return NullTranslations()  # the source strings are the Chinese text
    return Translations.load(str(LOCALE_DIR), [locale])


def normalize(value: str | None) -> str | None:
    """``en-US`` → ``en``, ``zh`` / ``zh-CN`` / ``zh_Hans`` → ``zh_CN``; anything else → None."""
    if not value:
        return None
    primary = value.strip().replace("_", "-").split("-")[0].lower()
    return {"zh": "zh_CN", "en": "en"}.get(primary)


def from_accept_language(header: str) -> str | None:
    """The supported locale the browser prefers most, honouring ``q`` weights."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        locale = normalize(tag)
        if locale and quality > 0:
            weighted.append((-quality, index, locale))
    return min(weighted)[2] if weighted else None


def locale_of(request: Request) -> str:
    chosen = normalize(request.cookies.get(COOKIE))
    if chosen:
        return chosen
    accepted = from_accept_language(request.headers.get("accept-language", ""))
    if accepted:
        return accepted
    settings = getattr(request.app.state, "settings", None)
    return normalize(getattr(settings, "default_locale", None)) or DEFAULT_LOCALE


def use_locale(request: Request) -> str:
    """Makes the request's locale current for ``gettext`` (and the templates); returns it."""
    locale = locale_of(request)
    _current.set(locale)
    return locale


async def locale_dependency(request: Request) -> None:
    """Router dependency. It is async on purpose: it runs in the request's own task, so the
    context variable it sets is copied into the worker thread of a sync endpoint."""
    use_locale(request)


def current_locale() -> str:
    return _current.get()


def gettext(message: str) -> str:
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


_ = gettext


def N_(message: str) -> str:
    """Marks a string for extraction without translating it now (translated when shown)."""
    return message


# Labels defined in the domain packages (kesu/*/enums.py, roles.py) are Chinese source strings.
# Listing them here puts them into the catalog; ``gettext(label)`` translates them when shown.
DOMAIN_LABELS = (
    # channels
    N_("网页表单"),
    N_("API"),
    N_("邮件"),
    N_("电话"),
    N_("门店"),
    N_("App"),
    N_("微博"),
    N_("抖音"),
    N_("小红书"),
    N_("快手"),
    N_("黑猫投诉"),
    N_("微信"),
    N_("社交媒体"),
    N_("其他"),
    # customer tiers
    N_("普通"),
    N_("VIP"),
    N_("重要客户"),
    # remedies sought
    N_("退款"),
    N_("换货"),
    N_("维修"),
    N_("赔偿"),
    N_("道歉"),
    N_("解释说明"),
    # severities and priorities
    N_("一般"),
    N_("较重"),
    N_("严重"),
    N_("重大"),
    N_("紧急"),
    N_("高"),
    N_("中"),
    N_("低"),
    # roles
    N_("管理员"),
    N_("高管"),
    N_("主管"),
    N_("组长"),
    N_("客服"),
    N_("财务审批"),
    N_("审计"),
    # the public names of the seeded stages (shown to customers on the tracking page)
    N_("已受理"),
    N_("调查核实中"),
    N_("方案制定中"),
    N_("待您确认方案"),
    N_("方案执行中"),
    N_("处理结果已反馈"),
    N_("待评价"),
    N_("已结案"),
)
