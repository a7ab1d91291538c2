"""URLs of the staff console."""

from django.urls import path

from bibid.common.mfa import urls as mfa_urls

from . import helpdesk_views, views

app_name = "console"
urlpatterns = [
    path("inloggen/", views.login_view, name="login"),
    path("uitloggen/", views.logout_view, name="logout"),
    path("", views.home, name="home"),
    path("klanten/<str:card_number>/", views.customer, name="customer"),
    path(
        "klanten/<str:card_number>/inlogaccount/<slug:action>/",
        views.login_action,
        name="login_action",
    ),
    path("klanten/<str:card_number>/helpdesk/", helpdesk_views.diagnose, name="helpdesk_diagnose"),
    path("klanten/<str:card_number>/helpdesk/oplossen/", helpdesk_views.fix, name="helpdesk_fix"),
    path(
        "klanten/<str:card_number>/helpdesk/koppelen/",
        helpdesk_views.confirm_link,
        name="helpdesk_link_confirm",
    ),
    path(
        "klanten/<str:card_number>/helpdesk/zaken/<int:case>/antwoord/",
        helpdesk_views.answer,
        name="helpdesk_answer",
    ),
    path("lid-worden/", views.register, name="register"),
    path("tokens/", views.api_tokens, name="tokens"),
    path("medewerkers/", views.staff_list, name="staff"),
    path(
        "medewerkers/<int:pk>/tweede-stap-herstellen/",
        views.staff_reset_second_factor,
        name="staff_reset_second_factor",
    ),
    path(
        "medewerkers/<int:pk>/tweede-stap-deblokkeren/",
        views.staff_lift_second_factor_block,
        name="staff_lift_second_factor_block",
    ),
    # The second step after the password (bibid.common.mfa).
    *mfa_urls.patterns(views.CONSOLE_FLOW),
]
