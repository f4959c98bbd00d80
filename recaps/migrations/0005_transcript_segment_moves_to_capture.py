# The short-lived transcript is capture's (docs/architecture.md). The table stays where it is
# (capture.TranscriptSegment keeps db_table "recaps_transcriptsegment"): only Django's model state moves.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("recaps", "0004_segment_confidence"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="TranscriptSegment")],
            database_operations=[],
        ),
    ]
