"""Template filters for bibid.common.words: `{% load words %}`, then
`{{ price|money }}`, `{{ right.code|right_name }}`, `{{ codes|rights_text }}`,
`{{ right.limits|limits_text }}`, `{{ value|day }}`, `{{ value|moment }}`."""

from django import template

from bibid.common import words

register = template.Library()

register.filter("money", words.money)
register.filter("right_name", words.right_name)
register.filter("limits_text", words.limits_text)


@register.filter
def rights_text(codes) -> str:
    return words.rights_text(codes or ())


@register.filter
def day(value, long: str = "") -> str:
    """`{{ d|day }}` 31-01-2026; `{{ d|day:"long" }}` 31 januari 2026."""
    return words.day(value, short=long != "long")


@register.filter
def moment(value, short: str = "") -> str:
    """`{{ t|moment }}` 5 mei 2026 14:05; `{{ t|moment:"short" }}` 05-05-2026 14:05."""
    return words.moment(value, short=short == "short")
