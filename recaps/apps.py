from django.apps import AppConfig


class RecapsConfig(AppConfig):
    name = "recaps"

    def ready(self) -> None:
        from accounts.deletion import register_account_data
        from capture.signals import session_ready, transcript_committed

        from .deletion import account_data_delete
        from .llm_config import llm_target
        from .tasks import notes_when_due, recap_build

        register_account_data(account_data_delete)
        # A model server outside private networks is refused here, at start-up, not at the first recap.
        llm_target()

        def build_when_ready(sender, session_id, **kwargs) -> None:
            recap_build.delay(str(session_id))

        # A stopped session whose transcript is complete gets its recap (capture/signals.py).
        session_ready.connect(build_when_ready, dispatch_uid="recaps.build_when_ready", weak=False)

        def notes_on_commit(sender, session_id, **kwargs) -> None:
            notes_when_due(session_id)

        # With a model server, each chunk of a recording session is noted as soon as it is transcribed.
        transcript_committed.connect(notes_on_commit, dispatch_uid="recaps.notes_on_commit", weak=False)
