import factory
from django.contrib.auth.models import User

PASSWORD = "calm-river-stone-42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"person{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


def consent_record(
    *, session_type: str = "in_person", client: str = "US-NY", therapist: str | None = None
) -> dict:
    """A complete consent record for a therapy session, as the consent gate stores it."""
    from capture.consent.records import consent_record_build

    return consent_record_build(
        session_type=session_type, client=client, therapist=therapist, therapist_agreed=True
    )
