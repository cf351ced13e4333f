"""A scenario's result, its verdict, and the battery's table and JSON."""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from chaos.outcome import Tally
from chaos.scenarios import Check


@dataclass(frozen=True)
class DisruptionRecord:
    what: str
    at: float  # seconds after the senders started
    seconds: float
    backlog: int  # stream entries waiting when it ended


@dataclass
class ScenarioResult:
    number: int
    name: str
    title: str
    seconds: float  # the scenario's whole run, start-up to shutdown
    tally: Tally | None = None
    stall: float = 0.0  # longest stall of the flush, seconds
    stall_at: float | None = None  # when it began, seconds after the senders started
    stall_bound: float = 0.0
    disagreement: float = 0.0  # longest continuous disagreement of a ranking, seconds
    disagreement_at: float | None = None
    disagreeing_learner: str | None = None
    disagreement_bound: float = 0.0
    ranking_samples: dict[str, int] = field(default_factory=dict)  # agreeing, disagreeing, unknown
    answers: dict[str, int] = field(default_factory=dict)  # POSTs by status ("0": no answer)
    abandoned: int = 0  # batches never accepted before the deadline
    disruptions: list[DisruptionRecord] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # senders' crashes, the harness's own errors

    @property
    def refused(self) -> int:
        return self.answers.get("503", 0)

    @property
    def failures(self) -> list[str]:
        """Return why the scenario failed; empty when it passed."""
        failures = list(self.problems)
        if self.tally is None:
            return failures or ["no counts"]
        t = self.tally
        for count, what in [
            (t.lost, "accepted events lost"),
            (t.duplicated, "duplicated rows"),
            (t.undrained, "accepted events still in the buffer at the deadline"),
            (t.accepted_dead, "accepted (valid) events dead-lettered"),
            (self.abandoned, "batches never accepted before the deadline"),
        ]:
            if count:
                failures.append(f"{count:,} {what}")
        if self.stall > self.stall_bound:
            failures.append(f"the flush stalled {self.stall:.1f} s (bound {self.stall_bound:.1f} s)")
        if self.disagreement > self.disagreement_bound:
            failures.append(
                f"a ranking disagreed with PostgreSQL + pending for {self.disagreement:.1f} s "
                f"(bound {self.disagreement_bound:.1f} s)"
            )
        failures += [f"{check.name}: {check.detail}" for check in self.checks if not check.passed]
        return failures

    def as_json(self) -> dict:
        return {**asdict(self), "refused_503": self.refused, "failures": self.failures, "passed": not self.failures}


COLUMNS = "{:<30} {:>9} {:>9} {:>5} {:>6} {:>5} {:>15} {:>15} {:>6}  {}"


def print_table(results: list[ScenarioResult], header: str) -> None:
    print()
    print(header)
    print(
        COLUMNS.format(
            "scenario",
            "accepted",
            "stored",
            "dup",
            "lost",
            "dead",
            "stall s (max)",
            "disagree s (max)",
            "503s",
            "result",
        )
    )
    for r in results:
        t = r.tally or Tally(0, 0, 0, 0, 0, 0, 0, 0, 0)
        print(
            COLUMNS.format(
                f"{r.number} {r.title}",
                f"{t.accepted:,}",
                f"{t.stored:,}",
                f"{t.duplicated:,}",
                f"{t.lost:,}",
                f"{t.dead_lettered:,}",
                f"{r.stall:.1f} ({r.stall_bound:.1f})",
                f"{r.disagreement:.1f} ({r.disagreement_bound:.1f})",
                f"{r.refused:,}",
                "FAIL" if r.failures else "ok",
            )
        )
    for r in results:
        for failure in r.failures:
            print(f"  {r.number} {r.title}: {failure}")


def write_json(path: Path, results: list[ScenarioResult], **about) -> None:
    path.write_text(json.dumps({**about, "scenarios": [r.as_json() for r in results]}, indent=2) + "\n")
