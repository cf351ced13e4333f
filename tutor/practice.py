"""What a learner's practice of one exercise says: when it was last done and when it is due again."""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Practice:
    last_done: datetime
    due: datetime
