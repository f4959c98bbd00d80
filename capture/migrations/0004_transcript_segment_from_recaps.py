# The short-lived transcript is capture's (docs/architecture.md). The table already exists (created by
# recaps.0001 and widened by recaps.0004) and keeps its name: only Django's model state moves here.

import django.db.models.deletion
from django.db import migrations, models

import undertone_web.crypto


class Migration(migrations.Migration):
    dependencies = [
        ("capture", "0003_consent_preference"),
        ("recaps", "0005_transcript_segment_moves_to_capture"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="TranscriptSegment",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("index", models.PositiveIntegerField()),
                        ("channel", models.PositiveSmallIntegerField()),
                        ("start", models.FloatField()),
                        ("end", models.FloatField()),
                        ("text", undertone_web.crypto.EncryptedTextField()),
                        ("avg_logprob", models.FloatField(null=True)),
                        ("no_speech_prob", models.FloatField(null=True)),
                        ("unsure", models.JSONField(blank=True, default=list)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "session",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="segments",
                                to="capture.capturesession",
                            ),
                        ),
                        (
                            "window",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="segments",
                                to="capture.capturewindow",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "recaps_transcriptsegment",
                        "ordering": ["start"],
                        "constraints": [
                            models.UniqueConstraint(fields=("window", "index"), name="segment_once_per_window")
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
