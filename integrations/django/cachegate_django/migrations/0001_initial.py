from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []

    operations = [
        migrations.CreateModel(
            name="OutboxEvent",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("event_id", models.CharField(max_length=64, unique=True)),
                ("body", models.TextField()),
                ("created", models.DateTimeField(auto_now_add=True)),
                ("attempts", models.IntegerField(default=0)),
                ("next_attempt", models.DateTimeField(blank=True, null=True)),
                ("last_error", models.TextField(blank=True, default="")),
            ],
            options={"db_table": "cachegate_outbox", "ordering": ["id"]},
        ),
        migrations.CreateModel(
            name="DeadEvent",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("event_id", models.CharField(max_length=64)),
                ("body", models.TextField()),
                ("reason", models.TextField()),
                ("created", models.DateTimeField(auto_now_add=True)),
            ],
            options={"db_table": "cachegate_dead_event", "ordering": ["id"]},
        ),
    ]
