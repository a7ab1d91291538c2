"""The second step's URL patterns, for a service to mount with its own Flow."""

from __future__ import annotations

from django.urls import path

from . import views
from .flow import Flow


def patterns(flow: Flow, prefix: str = "tweede-stap/") -> list:
    kw = {"flow": flow}
    return [
        path(prefix, views.second_step, kw, name="mfa_second_step"),
        path(f"{prefix}sleutel/begin/", views.key_begin, kw, name="mfa_key_begin"),
        path(f"{prefix}sleutel/", views.key_finish, kw, name="mfa_key_finish"),
        path(f"{prefix}instellen/", views.setup, kw, name="mfa_setup"),
        path(
            f"{prefix}instellen/sleutel/begin/",
            views.key_register_begin,
            kw,
            name="mfa_key_register_begin",
        ),
        path(
            f"{prefix}instellen/sleutel/",
            views.key_register_finish,
            kw,
            name="mfa_key_register_finish",
        ),
        path(f"{prefix}herstelcodes/", views.recovery_codes, kw, name="mfa_codes"),
        path(f"{prefix}beheren/", views.manage, kw, name="mfa_manage"),
    ]
