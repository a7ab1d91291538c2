"""The shared app: templates, static files and translations used by every service."""

from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "bibid.common"
    label = "bibid_common"
    verbose_name = "Bibid"

    def ready(self) -> None:
        from . import logs, metrics

        logs.connect_task_signals()
        for name, probe in metrics.task_queue_probes().items():
            metrics.register_queue(name, probe)
