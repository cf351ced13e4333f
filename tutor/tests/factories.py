from datetime import timedelta

import factory
from django.utils import timezone

from tutor.models import Error, Exercise, User
from tutor.taxonomy import CATEGORY_OF


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"learner{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = "Ada"
    last_name = factory.Sequence(lambda n: f"Learner{n}")


class ErrorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Error

    class Params:
        days_ago = 0

    user = factory.SubFactory(UserFactory)
    errorSubCategory = 3
    errorCategory = factory.LazyAttribute(lambda e: CATEGORY_OF[e.errorSubCategory])
    timestamp_utc = factory.LazyAttribute(lambda e: timezone.now() - timedelta(days=e.days_ago))


class ExerciseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Exercise

    title = factory.Sequence(lambda n: f"Exercise {n:03d}")
    errorSubCategory = 3
    errorCategory = factory.LazyAttribute(lambda e: CATEGORY_OF[e.errorSubCategory])
    exercise_type = "gap_fill"
    level = "B1"
    instructions = "Say each sentence aloud with the verb in the right tense."
    content = factory.Sequence(
        lambda n: {
            "answer_mode": "typed",
            "items": [{"id": f"factory-{n}.1", "prompt": "Yesterday I ___ to the market. (go)", "answer": "went"}],
        }
    )
    is_active = True
