from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("flows", "0002_flowversion")]

    operations = [
        migrations.AddField(
            model_name="flow",
            name="revision",
            field=models.PositiveIntegerField(default=0),
        ),
    ]
