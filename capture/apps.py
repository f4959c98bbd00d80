from django.apps import AppConfig


class CaptureConfig(AppConfig):
    name = "capture"

    def ready(self) -> None:
        from accounts.deletion import register_account_data

        from .deletion import account_data_delete

        register_account_data(account_data_delete)
