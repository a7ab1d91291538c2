"""URLs of the self-service pages."""

from django.urls import path

from . import passkey_views, views

app_name = "selfservice"
urlpatterns = [
    path("", views.home, name="home"),
    path("wachtwoord-vergeten/", views.forgot_password, name="forgot_password"),
    path("gebruikersnaam-vergeten/", views.forgot_username, name="forgot_username"),
    path("activeren/<str:token>/", views.activate, name="activate"),
    path("wachtwoord-herstellen/<str:token>/", views.reset, name="reset"),
    path("e-mailadres-bevestigen/<str:token>/", views.confirm_email, name="confirm_email"),
    path("wachtwoord-wijzigen/", views.change_password, name="change_password"),
    path("e-mailadres-wijzigen/", views.change_email, name="change_email"),
    path("gebruikersnaam-wijzigen/", views.change_username, name="change_username"),
    path("account-verwijderen/", views.delete_account, name="delete_account"),
    path("bibliotheken/<int:link_id>/intrekken/", views.withdraw_link, name="withdraw_link"),
    path("bibliotheken/wijzigingen-toestaan/", views.lift_freeze, name="lift_freeze"),
    path("niet-ik/<str:token>/", views.not_me, name="not_me"),
    path("passkeys/", passkey_views.passkeys_page, name="passkeys"),
    path("passkeys/bevestigen/", passkey_views.confirm, name="passkey_confirm"),
    path("passkeys/toevoegen/begin/", passkey_views.add_begin, name="passkey_add_begin"),
    path("passkeys/toevoegen/", passkey_views.add, name="passkey_add"),
    path("passkeys/<int:passkey_id>/naam/", passkey_views.rename, name="passkey_rename"),
    path("passkeys/<int:passkey_id>/verwijderen/", passkey_views.remove, name="passkey_remove"),
    path("dev/postbus/", views.dev_mailbox, name="dev_mailbox"),
    path("dev/postbus/<int:pk>/", views.dev_message, name="dev_message"),
]
