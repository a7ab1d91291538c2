"""Dutch: Django's formats, with the short date as Dutch forms and letters write it (31-01-2026).

Django's own short date is "31-1-2026"; the pages used "d-m-Y" by hand before, and people
compare it with the date on their card and their letters, so the leading zero stays.
"""

SHORT_DATE_FORMAT = "d-m-Y"  # 31-01-2026
SHORT_DATETIME_FORMAT = "d-m-Y H:i"  # 31-01-2026 14:05
