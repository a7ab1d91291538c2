"""Unit-test settings: plain static files."""

import pytest


@pytest.fixture(autouse=True)
def _unit_settings(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
