from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("customers", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="private_until",
            field=models.DateField(blank=True, null=True, verbose_name="privé tot"),
        ),
    ]
