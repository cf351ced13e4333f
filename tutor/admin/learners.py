"""Learners in the admin (the learners of the API, apart from the staff accounts that sign in here).

A learner's change page shows their progress: errors per week by category (a chart); errors,
attempts and average score per week (a second chart), each pair's trend and the exercises due for
review, all from tutor.progress.learner_progress, the function that answers
GET /api/users/{id}/progress; their top errors by count and by decay, the recommendation
GET /api/generate-exercise would answer now, and their latest attempts. The top errors and the
recommendation come from tutor.ranking with the API's defaults, so they count events still in the
real-time buffer as the API does, and so does the progress chart; the errors-by-category chart
counts stored errors (tutor.progress.weekly_errors).
"""

from django.contrib import admin
from django.urls import reverse

from tutor import progress, ranking
from tutor.models import User
from tutor.scoring import MODES, Scoring
from tutor.serializers import GENERATE_QUERY
from tutor.taxonomy import pair_labels

TOP_ERROR_MODES = ("count", "decay")


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ("username", "email", "first_name", "last_name", "level", "created_at")
    list_filter = ("level",)
    search_fields = ("username", "email", "first_name", "last_name")
    readonly_fields = ("id", "created_at", "updated_at")

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update(learner_progress(obj))
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)


def learner_progress(learner: User) -> dict:
    """Return what the learner's change page shows besides the form (template context)."""
    # The API's own defaults, read from its query serializer, so that the page answers as a bare request would.
    query = GENERATE_QUERY.run_validation({"user_id": str(learner.pk)})
    recommendation = ranking.recommend(**query)
    learner_progress = progress.learner_progress(user_id=learner.pk)
    return {
        "errors_chart": progress.weekly_errors(user_id=learner.pk).chart(),
        "progress_chart": learner_progress.chart(),
        "progress": learner_progress.answer(),
        "trend_rule": progress.TREND_RULE,
        "top_errors_tables": [
            (mode, top_errors(learner, Scoring(mode, query["half_life_days"]))) for mode in TOP_ERROR_MODES
        ],
        "half_life_days": query["half_life_days"],
        "recommendation": recommendation,
        "recommendation_data": {
            "top_errors": [
                {
                    "errorCategory": pair["errorCategory"],
                    "errorSubCategory": pair["errorSubCategory"],
                    "errorFrequency": pair["errorFrequency"],
                    "score": pair["score"],
                    "exercises": [
                        {"id": str(e["id"]), "title": e["title"], "repeat": e["repeat"]} for e in pair["exercises"]
                    ],
                }
                for pair in recommendation["top_errors"]
            ]
        },
        "recent_attempts": progress.recent_attempts(user_id=learner.pk),
        "attempts_url": reverse("admin:tutor_exerciseattempt_changelist") + f"?user={learner.pk}",
    }


def top_errors(learner: User, scoring: Scoring) -> list[dict]:
    """Return every error pair of the learner, ranked as the API ranks them with this scoring (rows of a table)."""
    return [
        {
            **pair_labels(stat.subcategory),
            "count": stat.frequency,
            "score": MODES[scoring.mode].shown(stat.score),
            "last_seen": stat.last_seen,
        }
        for stat in ranking.top_errors(user_id=learner.pk, last_n_days=None, limit=None, scoring=scoring)
    ]
