"""English as it is read in the Netherlands: day before month and a 24-hour clock.

Django's "en" is American: 01/05/2026 is 5 January there and 1 May to everyone here, and
its times end in "a.m."/"p.m.", which put a second period after a sentence that ends in a
time ("blocked until 5 May 2026, 10:30 a.m.."). A 24-hour clock ends in a digit.
"""

DATE_FORMAT = "j F Y"  # 5 May 2026
TIME_FORMAT = "H:i"  # 14:05
DATETIME_FORMAT = "j F Y, H:i"  # 5 May 2026, 14:05
MONTH_DAY_FORMAT = "j F"  # 5 May
SHORT_DATE_FORMAT = "d/m/Y"  # 05/05/2026
SHORT_DATETIME_FORMAT = "d/m/Y H:i"  # 05/05/2026 14:05
FIRST_DAY_OF_WEEK = 1  # Monday, as the weeks of the helpdesk report
# What a form accepts follows what the pages show: day before month, never month first.
DATE_INPUT_FORMATS = [
    "%Y-%m-%d",  # 2026-05-05 (what a date input sends)
    "%d/%m/%Y",  # 05/05/2026
    "%d/%m/%y",  # 05/05/26
    "%d %B %Y",  # 5 May 2026
    "%d %b %Y",  # 5 May 2026
]
DATETIME_INPUT_FORMATS = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
]
