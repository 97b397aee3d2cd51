# RefreshState moves here from the webhooks app: state only, the table (webhooks_refreshstate) and its rows stay.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('sources', '0005_source_external_id'),
        ('webhooks', '0002_refreshstate'),  # the table exists from there on
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='RefreshState',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('source_id', models.UUIDField(unique=True)),
                        ('consecutive_failures', models.PositiveIntegerField(default=0)),
                        ('next_attempt_at', models.DateTimeField(blank=True, db_index=True, null=True)),
                        ('last_error', models.CharField(blank=True, default='', max_length=500)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        'db_table': 'webhooks_refreshstate',
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
