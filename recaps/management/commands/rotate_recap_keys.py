"""Re-encrypt every encrypted column with the current (first) key of RECAP_ENCRYPTION_KEYS.

Rotation: put the new key first and keep the old one after it, deploy, run this, then drop the old key.
Values are re-encrypted from their raw tokens, never loaded through the models."""

from django.core.management.base import BaseCommand, CommandError

from recaps.services import encryption_keys_rotate
from undertone_web.crypto import DecryptionError


class Command(BaseCommand):
    help = "Re-encrypt recaps, notes and transcript segments with the first key in RECAP_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        try:
            counts = encryption_keys_rotate()
        except DecryptionError as exc:
            # The message names no value: the table that failed was rolled back, earlier ones are done
            # and are still readable with the current key list, so the command can simply be re-run.
            raise CommandError(f"a stored value opens with none of the configured keys: {exc}") from exc
        for column, n in counts.items():
            self.stdout.write(f"{column}: {n} re-encrypted")
