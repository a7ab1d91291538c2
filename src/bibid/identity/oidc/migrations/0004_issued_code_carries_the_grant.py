"""The authorization code's row carries the whole grant (one statement at authorize);
django-oauth-toolkit's Grant is no longer written. Codes issued before keep their session,
account and application; one not exchanged yet cannot be (its verifier and redirect URI were
in the Grant), and is removed: codes live 60 seconds."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def fill_from_session(apps, schema_editor):
    IssuedCode = apps.get_model("oidc", "IssuedCode")
    IssuedCode.objects.filter(exchanged_at__isnull=True).delete()
    for issued in IssuedCode.objects.select_related("session"):
        issued.application_id = issued.session.application_id
        issued.account_id = issued.session.account_id
        issued.sid = issued.session.sid
        issued.save(update_fields=["application", "account", "sid"])


class Migration(migrations.Migration):
    dependencies = [
        ("oidc", "0003_service_session_per_sid_issued_codes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        migrations.swappable_dependency(settings.OAUTH2_PROVIDER_APPLICATION_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="servicesession",
            name="amr",
            field=models.JSONField(default=list),
        ),
        migrations.AddField(
            model_name="issuedcode",
            name="application",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to=settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="issuedcode",
            name="account",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="issuedcode",
            name="sid",
            field=models.CharField(db_index=True, default="", max_length=64),
        ),
        migrations.RunPython(fill_from_session, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="issuedcode",
            name="application",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to=settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="issuedcode",
            name="account",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="issuedcode",
            name="session",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="codes",
                to="oidc.servicesession",
            ),
        ),
        migrations.RemoveField(model_name="issuedcode", name="grant"),
        migrations.AddField(
            model_name="issuedcode",
            name="session_expires_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.AddField(
            model_name="issuedcode", name="expires_at", field=models.DateTimeField(null=True)
        ),
        migrations.AddField(
            model_name="issuedcode", name="redirect_uri", field=models.TextField(default="")
        ),
        migrations.AddField(
            model_name="issuedcode", name="scope", field=models.TextField(default="")
        ),
        migrations.AddField(
            model_name="issuedcode",
            name="code_challenge",
            field=models.CharField(default="", max_length=128),
        ),
        migrations.AddField(
            model_name="issuedcode",
            name="code_challenge_method",
            field=models.CharField(default="", max_length=10),
        ),
        migrations.AddField(
            model_name="issuedcode",
            name="nonce",
            field=models.CharField(default="", max_length=255),
        ),
        migrations.AddField(
            model_name="issuedcode", name="resource", field=models.JSONField(default=list)
        ),
        migrations.AddField(
            model_name="issuedcode", name="amr", field=models.JSONField(default=list)
        ),
        migrations.AddField(
            model_name="issuedcode",
            name="ip",
            field=models.GenericIPAddressField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="issuedcode",
            name="user_agent",
            field=models.CharField(blank=True, default="", max_length=300),
        ),
    ]
