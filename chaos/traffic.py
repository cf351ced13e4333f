"""The senders: concurrent clients POSTing learners' error events in batches, retrying as real clients do.

Every event carries a client-chosen uuid4 `event_id`, so a retry is safe: a request answered
503, 429, 5xx or not at all is sent again with the same events until it is answered 202 or the
scenario gives up; and a share of the requests answered 202 is sent once more, as a client
that never saw the answer would.
"""

import math
import random
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
import requests

from tutor.taxonomy import CATEGORY_OF

RETRIED = frozenset({429, 500, 502, 503, 504})
NO_ANSWER = 0  # the status recorded when the connection failed or timed out
WAIT_WITHOUT_ADVICE = 0.5  # seconds before retrying a request answered without Retry-After
LONGEST_WAIT = 5.0  # a client honours Retry-After up to this


@dataclass(frozen=True)
class Plan:
    """What the senders send: `events` in batches of `batch`, spread evenly over `seconds`."""

    events: int
    seconds: float
    senders: int = 4
    batch: int = 100
    repeat_share: float = 0.10  # requests sent a second time after their 202

    @property
    def batches(self) -> int:
        return math.ceil(self.events / self.batch)


@dataclass(frozen=True)
class Answer:
    """One POST's outcome."""

    at: float  # time.monotonic() when it was answered (or failed)
    status: int  # NO_ANSWER when none came
    retry_after: str | None


class Traffic:
    """Run a plan's senders in threads; collect the ids sent and the ids answered 202."""

    def __init__(self, *, url: str, token: str, learners: list[str], plan: Plan, seed: int):
        self.url = f"{url}/api/error-events"
        self.token = token
        self.learners = learners
        self.plan = plan
        self.seed = seed
        self.started_at = 0.0
        self.give_up_at = math.inf
        self.sent: set[str] = set()
        self.accepted: set[str] = set()
        self.answers: list[Answer] = []
        self.abandoned = 0  # batches never answered 202 before giving up, or refused for good
        self.crashes: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self, *, give_up_at: float) -> None:
        """Start the senders; nobody sends or retries after `give_up_at` (time.monotonic())."""
        self.started_at = time.monotonic()
        self.give_up_at = give_up_at
        for index in range(self.plan.senders):
            thread = threading.Thread(target=self._run, args=(index,), name=f"sender-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def wait(self, until: float) -> bool:
        """Wait until every sender is done or `until` (time.monotonic()) passed; return whether they are done."""
        for thread in self._threads:
            thread.join(timeout=max(0.0, until - time.monotonic()))
        return self.done()

    def done(self) -> bool:
        return not any(thread.is_alive() for thread in self._threads)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=20)

    def answers_since(self, moment: float) -> list[Answer]:
        with self._lock:
            return [answer for answer in self.answers if answer.at >= moment]

    def _run(self, index: int) -> None:
        try:
            self._send_share(index)
        except Exception:
            with self._lock:
                self.crashes.append(traceback.format_exc())

    def _send_share(self, index: int) -> None:
        """Send batches index, index + senders, ... each at its time in the plan."""
        rng = random.Random(f"{self.seed}:{index}")
        spacing = self.plan.seconds / self.plan.batches
        with requests.Session() as session:
            session.headers.update({"Authorization": f"Token {self.token}", "Content-Type": "application/json"})
            for number in range(index, self.plan.batches, self.plan.senders):
                due = self.started_at + number * spacing
                if due >= self.give_up_at or self._stop.wait(max(0.0, due - time.monotonic())):
                    return
                size = min(self.plan.batch, self.plan.events - number * self.plan.batch)
                events = make_events(rng, self.learners, size)
                with self._lock:
                    self.sent.update(event["event_id"] for event in events)
                body = orjson.dumps(events)
                accepted = self._deliver(session, body)
                if accepted and rng.random() < self.plan.repeat_share:
                    accepted = self._deliver(session, body)
                if not accepted:
                    with self._lock:
                        self.abandoned += 1

    def _deliver(self, session: requests.Session, body: bytes) -> bool:
        """POST until answered 202 (True), refused for good or past the give-up time (False)."""
        while not self._stop.is_set():
            answer, accepted_ids = self._post(session, body)
            if answer.status == 202:
                with self._lock:
                    self.accepted.update(accepted_ids)
                return True
            if answer.status != NO_ANSWER and answer.status not in RETRIED:
                return False
            wait = retry_wait(answer.retry_after)
            if time.monotonic() + wait > self.give_up_at:
                return False
            self._stop.wait(wait)
        return False

    def _post(self, session: requests.Session, body: bytes) -> tuple[Answer, list[str]]:
        try:
            response = session.post(self.url, data=body, timeout=(2, 15))
        except requests.RequestException:
            answer, ids = Answer(time.monotonic(), NO_ANSWER, None), []
        else:
            answer = Answer(time.monotonic(), response.status_code, response.headers.get("Retry-After"))
            ids = response.json()["event_ids"] if response.status_code == 202 else []
        with self._lock:
            self.answers.append(answer)
        return answer, ids


def retry_wait(retry_after: str | None) -> float:
    """Return how long to wait before a retry: the server's Retry-After, within reason."""
    try:
        return min(max(float(retry_after), 0.1), LONGEST_WAIT)
    except (TypeError, ValueError):
        return WAIT_WITHOUT_ADVICE


def make_events(rng: random.Random, learners: list[str], size: int) -> list[dict]:
    """Return `size` valid events of random learners, made within the last hour."""
    now = datetime.now(UTC)
    events = []
    for _ in range(size):
        sub = rng.randint(1, 12)
        moment = now - timedelta(seconds=rng.uniform(0, 3600))
        events.append(
            {
                "event_id": str(uuid.uuid4()),
                "user_id": rng.choice(learners),
                "errorCategory": int(CATEGORY_OF[sub]),
                "errorSubCategory": sub,
                "timestamp_utc": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            }
        )
    return events
