"""What the service tells Prometheus, and the staff-only endpoint that serves it (`GET /metrics`).

Two kinds of numbers:
- The pipeline's, read from the buffer's Redis at each scrape (`PipelineCollector`): every process
  reports the same, whichever one Prometheus reaches.
- Each process's own (request durations, events written through). Under gunicorn
  (PROMETHEUS_MULTIPROC_DIR set, see english_tutor/gunicorn.py) each worker writes them to a file
  of its own and a scrape adds up every worker's files, those of exited workers included.
"""

import os
from collections.abc import Iterator

from drf_spectacular.utils import extend_schema
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.utils import floatToGoString
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import IsAdminUser
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from tutor import buffer

REQUEST_SECONDS = Histogram(
    "tutor_http_request_duration_seconds",
    "Time to answer a request, by URL pattern name (unmatched when none matched), method and status.",
    ["endpoint", "method", "status"],
    # From a millisecond, so that the hot calls' latencies fall in distinct buckets.
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
EVENTS_WRITTEN_THROUGH = Counter(
    "tutor_events_written_through",
    "Events written straight to PostgreSQL because the event buffer was unreachable or absent.",
)


class PipelineCollector:
    """The buffer's depth and age and the pipeline's counters, read from the buffer at scrape time."""

    def collect(self) -> Iterator[Metric]:
        try:
            stats = buffer.pipeline_stats()
        except buffer.BufferUnavailable:
            stats = None
        yield GaugeMetricFamily(
            "tutor_buffer_up",
            "Whether the event buffer could be read (0: absent or unreachable).",
            value=0 if stats is None else 1,
        )
        if stats is None:
            return
        yield GaugeMetricFamily("tutor_buffer_entries", "Stream entries not yet flushed.", value=stats.entries)
        yield GaugeMetricFamily(
            "tutor_buffer_oldest_unflushed_age_seconds",
            "Age of the oldest stream entry not yet flushed (0 when there is none).",
            value=stats.oldest_age_seconds or 0,
        )
        yield GaugeMetricFamily("tutor_buffer_dead_letters", "Events held as dead letters.", value=stats.dead_letters)
        yield CounterMetricFamily("tutor_events_accepted", "Events accepted into the buffer.", value=stats.accepted)
        yield CounterMetricFamily(
            "tutor_events_flushed", "Buffered events whose flush committed to PostgreSQL.", value=stats.flushed
        )
        yield CounterMetricFamily(
            "tutor_events_dead_lettered", "Buffered events sent to the dead letters.", value=stats.dead_lettered
        )
        buckets = [(floatToGoString(bound), count) for bound, count in sorted(stats.flush_seconds_buckets.items())]
        yield HistogramMetricFamily(
            "tutor_flush_duration_seconds",
            "Time a flushed batch took.",
            buckets=[*buckets, ("+Inf", stats.flushes)],
            sum_value=stats.flush_seconds_sum,
        )


def _scraped() -> CollectorRegistry:
    """Gather this process's metrics (or every worker's, under gunicorn) and the pipeline's."""
    registry = CollectorRegistry()
    # The variable prometheus_client read, when imported, to choose where metrics keep their values.
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)
    registry.register(PipelineCollector())
    return registry


SCRAPED = _scraped()


class PrometheusTextRenderer(BaseRenderer):
    """Prometheus's text format; DRF's refusals (401, 403, 429) as `key: value` lines."""

    media_type = "text/plain; version=0.0.4"
    charset = "utf-8"
    format = "prometheus"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if isinstance(data, bytes):
            return data
        return "".join(f"{key}: {value}\n" for key, value in data.items()).encode()


class TextFormatOnly(BaseContentNegotiation):
    """Answer in the text format whatever Accept asks: it is every Prometheus version's fallback."""

    def select_renderer(self, request, renderers, format_suffix=None) -> tuple[BaseRenderer, str]:
        return renderers[0], renderers[0].media_type


class MetricsView(APIView):
    permission_classes = [IsAdminUser]
    renderer_classes = [PrometheusTextRenderer]
    content_negotiation_class = TextFormatOnly

    @extend_schema(exclude=True)
    def get(self, request) -> Response:
        """Answer the metrics in Prometheus's text format (staff only: a staff token or session)."""
        return Response(generate_latest(SCRAPED))
