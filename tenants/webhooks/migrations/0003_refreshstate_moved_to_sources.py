# RefreshState now belongs to the sources app (sources 0006): state only, the table and its rows stay.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('webhooks', '0002_refreshstate'),
        ('sources', '0006_refreshstate'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='RefreshState')],
            database_operations=[],
        ),
    ]
