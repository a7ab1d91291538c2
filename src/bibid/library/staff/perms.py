"""The permissions, as names: importable without Django's apps (the helpdesk's definitions and
the Inlogaccount menu table are read by tools that do not start a service)."""

from __future__ import annotations

from enum import StrEnum


class Perm(StrEnum):
    SEARCH = "search"
    VIEW = "view"
    REGISTER = "register"
    EDIT_CUSTOMER = "edit_customer"
    EDIT_SUBSCRIPTION = "edit_subscription"
    # Making someone a colleague or volunteer, or a regular customer again: that decides who
    # may see their login account, so no role that uses the menu every day can do it alone.
    CHANGE_KIND = "change_kind"
    LOGIN_SHOW = "login_show"
    LOGIN_GENERATE = "login_generate"
    LOGIN_LINK = "login_link"
    LOGIN_ACTIVATE = "login_activate"
    LOGIN_AUTHORIZE = "login_authorize"
    LOGIN_RIGHTS = "login_rights"
    LOGIN_RECOVERY_EMAIL = "login_recovery_email"
    LOGIN_PASSWORD_RESET = "login_password_reset"  # noqa: S105 - a permission name
    LOGIN_UNLINK = "login_unlink"
    LOGIN_UNBLOCK = "login_unblock"
    LOGIN_HISTORY = "login_history"
    DIAGNOSE = "diagnose"
    MANAGE_TOKENS = "manage_tokens"
    SYNC = "sync"
