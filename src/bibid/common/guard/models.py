"""The guessing counters."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Throttle(models.Model):
    """A guessing counter for one key (an account, a device, a network address).

    Times are epoch seconds, so the atomic update in lanes.py can do its arithmetic in SQL
    the same way on SQLite and PostgreSQL.
    """

    key = models.CharField(max_length=80, primary_key=True)
    failures = models.IntegerField(default=0)
    window_start = models.FloatField(default=0)
    blocked_until = models.FloatField(default=0)
    # The lane's policy, carried by the row so that one statement can count an attempt on
    # lanes of different policies (see lanes._reserve_sql).
    free = models.IntegerField(default=0)
    cap = models.IntegerField(default=100)
    max_delay = models.IntegerField(default=0)
    shift = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("teller inlogpogingen")
        verbose_name_plural = _("tellers inlogpogingen")

    def __str__(self) -> str:
        return self.key
