"""What a relying party remembers of each sign-in, so that a back-channel logout, which
names an identity session (`sid`), can end the browser sessions that came from it."""

from django.db import models

from bibid.common import clock


class SignIn(models.Model):
    client_key = models.CharField(max_length=100)  # "reading" or the library code
    sid = models.CharField(max_length=64)
    sub = models.CharField(max_length=64)
    session_key = models.CharField(max_length=64)
    # The tokens, sealed (encrypted with the service's key), here rather than in the
    # session: two tabs refreshing at once take turns on this row, so the second uses the
    # first one's new tokens instead of replaying a spent refresh token (which identity
    # treats as theft and answers by revoking them all).
    tokens_sealed = models.TextField(blank=True)
    expires_at = models.BigIntegerField(default=0)  # of the access token, epoch seconds
    checked_at = models.BigIntegerField(default=0)  # last confirmed live at identity
    created_at = models.DateTimeField(default=clock.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    # "backchannel" (identity told us), "session_check" (we noticed), "signed_out_here"
    end_reason = models.CharField(max_length=32, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["client_key", "sid"], name="rp_signin_sid"),
            models.Index(fields=["session_key", "client_key"], name="rp_signin_session"),
        ]

    def __str__(self) -> str:
        return f"{self.client_key}:{self.sub}:{self.created_at:%Y-%m-%d %H:%M}"


class SeenLogoutToken(models.Model):
    """Logout tokens already accepted (by `jti`): a replayed one is refused."""

    jti = models.CharField(max_length=200, unique=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.jti
