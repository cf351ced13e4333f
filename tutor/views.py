from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.defaults import bad_request, page_not_found, server_error
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAdminUser, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from tutor import health, ingest, progress, ranking, replicas, throttling
from tutor.exceptions import UnknownUsers, UserNotFound
from tutor.fields import parse_uuid
from tutor.filters import ErrorFilter, ExerciseAttemptFilter, ExerciseFilter
from tutor.json_codec import FastJSONParser, FastJSONRenderer
from tutor.models import Error, Exercise, ExerciseAttempt, User
from tutor.permissions import CreateOrStaff, ReadOrStaff
from tutor.serializers import (
    GENERATE_QUERY,
    PROGRESS_QUERY,
    ErrorEventsAccepted,
    ErrorEventSerializer,
    ErrorSerializer,
    ExerciseAttemptSerializer,
    ExerciseSerializer,
    GenerateExerciseQuery,
    GenerateExerciseResponse,
    ProgressQuery,
    ProgressResponse,
    StoredErrorSerializer,
    UserSerializer,
    parse_error_events,
    plain_query,
    unknown_users_refusal,
)


def reads_a_learner(query, answer):
    """Document a GET about one learner: its query parameters, its answer, a 400 for bad input, a 404."""
    return extend_schema(
        parameters=[query],
        responses={
            200: answer,
            400: OpenApiResponse(description="A parameter is missing or out of range; the answer names it."),
            404: OpenApiResponse(description='{"error": "User not found"}'),
        },
    )


class ListsFromReplica:
    """A list endpoint: its reads go to a replica that holds every commit made before it (tutor.replicas)."""

    def list(self, request, *args, **kwargs):
        return replicas.on_replica(super().list, request, *args, **kwargs)


class UserViewSet(ListsFromReplica, viewsets.ModelViewSet):
    """Learner profiles (staff only: they hold personal data)."""

    queryset = User.objects.all()
    serializer_class = UserSerializer
    permission_classes = [IsAdminUser]  # staff only

    @reads_a_learner(ProgressQuery, ProgressResponse)
    @action(detail=True, methods=["get"], permission_classes=[IsAuthenticated])
    def progress(self, request, pk=None):
        """A learner's errors and attempts per ISO week and pair, each pair's trend, what is due for review now.

        Any client may read it: the answer names the learner by id only, never their profile.
        """
        query = PROGRESS_QUERY.run_validation(request.query_params.dict())
        user_id = parse_uuid(pk)
        if user_id is None:
            raise UserNotFound(pk)
        return rendered(request, progress.learner_progress(user_id=user_id, **query).answer())


class ErrorViewSet(
    ListsFromReplica,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.ListModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Errors learners made, stored one by one (for streams of events use /api/error-events)."""

    queryset = Error.objects.select_related("user")
    serializer_class = StoredErrorSerializer  # reading is for staff only
    filterset_class = ErrorFilter
    permission_classes = [CreateOrStaff]

    def get_serializer_class(self):
        return ErrorSerializer if self.action == "create" else StoredErrorSerializer

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = ingest.record_error(
            user_id=data["user_id"],
            category=data["errorCategory"],
            subcategory=data["errorSubCategory"],
            timestamp=data.get("timestamp_utc") or timezone.now(),
        )


class ExerciseAttemptViewSet(
    ListsFromReplica,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """Exercises learners did: recommendations skip them for a while (same access as reporting errors)."""

    queryset = ExerciseAttempt.objects.all()
    serializer_class = ExerciseAttemptSerializer
    filterset_class = ExerciseAttemptFilter
    permission_classes = [CreateOrStaff]

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = ingest.record_attempt(
            user_id=data["user_id"],
            exercise=data["exercise"],
            completed_at=data.get("completed_at") or timezone.now(),
            score=data.get("score"),
            answers=data.get("answers"),
        )


class ExerciseViewSet(ListsFromReplica, viewsets.ModelViewSet):
    """The curated exercise bank."""

    queryset = Exercise.objects.all()
    serializer_class = ExerciseSerializer
    filterset_class = ExerciseFilter
    permission_classes = [ReadOrStaff]


class GenerateExerciseView(APIView):
    @reads_a_learner(GenerateExerciseQuery, GenerateExerciseResponse)
    @throttling.counts_itself
    def get(self, request):
        """Rank the learner's most frequent error pairs over the window and recommend exercises for each."""
        # The request is counted in the round trip that reads the learner's snapshot.
        with throttling.counting(request) as counter:
            query = request.query_params.dict()
            params = plain_query(query) or GENERATE_QUERY.run_validation(query)
            # The answer is built JSON-ready by ranking.recommend and documented by
            # GenerateExerciseResponse: it is not serialized again through DRF fields.
            if isinstance(request.accepted_renderer, FastJSONRenderer):
                body = ranking.recommend_rendered(
                    **params, counter=counter, from_replica=True, render=request.accepted_renderer.render
                )
                return HttpResponse(body, content_type=request.accepted_renderer.media_type)
            # Another renderer (DEBUG's browsable API).
            return Response(ranking.recommend(**params, counter=counter, from_replica=True))


class ErrorEventsView(APIView):
    parser_classes = [FastJSONParser]

    @extend_schema(
        request=ErrorEventSerializer(many=True),
        responses={
            202: ErrorEventsAccepted,
            400: OpenApiResponse(description="Some event is invalid; the answer names each bad item by index."),
            503: OpenApiResponse(description="Neither the event buffer nor the database can take events now."),
        },
    )
    @throttling.counts_itself
    def post(self, request):
        """Accept one error event, or a list of up to 1,000, for real-time ranking (a single object works too)."""
        # The request is counted in the script that buffers its events.
        with throttling.counting(request) as counter:
            events = parse_error_events(request.data)
            try:
                ingest.accept_events(events, counter=counter)
            except UnknownUsers as exc:
                raise unknown_users_refusal(events, exc.user_ids, many=isinstance(request.data, list)) from None
        # The shape of ErrorEventsAccepted, built directly rather than through a serializer.
        body = {"accepted": len(events), "event_ids": [e.event_id for e in events]}
        return rendered(request, body, status=status.HTTP_202_ACCEPTED)


def rendered(request, data, status: int = 200) -> HttpResponse:
    """Answer `data` as DRF would, but rendered at once when it goes out as JSON (no template response)."""
    renderer = request.accepted_renderer
    if isinstance(renderer, FastJSONRenderer):
        return HttpResponse(renderer.render(data), content_type=renderer.media_type, status=status)
    return Response(data, status=status)  # another renderer (DEBUG's browsable API)


def healthz(request):
    """Answer 200 ok or degraded (the flush lags; the web still works), else 503 naming what does not answer."""
    report = health.check()
    body = {"status": report.status, "problems": report.problems} if report.problems else {"status": report.status}
    return JsonResponse(body, status=503 if report.status == health.Status.UNAVAILABLE else 200)


def refused(request, exception):
    """Answer a request Django refuses before any view runs (a body over DATA_UPLOAD_MAX_MEMORY_SIZE, ...)."""
    if request.path.startswith("/api/"):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return JsonResponse(
            {"error": f"The request was refused: {exception}. A body may hold at most {limit:,} bytes."}, status=400
        )
    return bad_request(request, exception)


def not_found(request, exception):
    if request.path.startswith("/api/"):
        return JsonResponse({"error": "Not found", "path": request.path}, status=404)
    return page_not_found(request, exception)


def server_failed(request):
    if request.path.startswith("/api/"):
        return JsonResponse({"error": "Internal server error"}, status=500)
    return server_error(request)
