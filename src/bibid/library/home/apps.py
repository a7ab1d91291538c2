"""App config of the library start page."""

from django.apps import AppConfig


class HomeConfig(AppConfig):
    name = "bibid.library.home"
    label = "home"

    def ready(self) -> None:
        from bibid.common import metrics

        # The library's pushes to the login service (one row per customer waiting). Read
        # through the model label only: the login-accounts context owns every write to it.
        metrics.register_queue(
            "pushes",
            metrics.model_probe("loginaccounts.PendingPush", waiting={}, since="requested_at"),
        )
        # Changes that got no answer in time and are not settled yet (an operator must know
        # when "nog niet bevestigd" lasts).
        metrics.register_queue(
            "unconfirmed_calls",
            metrics.model_probe(
                "loginaccounts.UnconfirmedCall",
                waiting={"settled_at__isnull": True},
                since="created_at",
            ),
        )
