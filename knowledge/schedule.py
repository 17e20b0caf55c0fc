"""The reminder schedule as configured, for the `dynamic: reminders` answer ("Bot có nhắc việc không?").

The knowledge base states what the bot reminds of only in words; the numbers (how many days before a
deadline, which quiet hours…) come from the settings the reminder job (`scheduler/reminders.py`) runs
with, so the answer never promises a schedule the job does not follow.
`templates/kb/reminders_block.html` renders it.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.config import Settings

DAY = "day"
HOUR = "hour"


def _clock(value: str) -> str:
    """The hour as people write it: "07:00" → "7:00"."""
    hours, minutes = value.split(":")
    return f"{int(hours)}:{minutes}"


@dataclass(frozen=True)
class ReminderSchedule:
    """What the reminder job is configured to do: offsets before a commune deadline (days), a training
    (hours) and a certificate's valid-until date (days); idle days before a draft's / a returned dossier's
    one nudge; quiet hours (local HH:MM, equal times: none). Offsets largest first, each once, as the
    settings keep them."""

    deadline_days: tuple[int, ...]
    training_hours: tuple[int, ...]
    certificate_days: tuple[int, ...]
    draft_idle_days: float
    returned_idle_days: float
    quiet_start: str
    quiet_end: str

    @classmethod
    def from_settings(cls, settings: Settings) -> ReminderSchedule:
        return cls(
            deadline_days=tuple(settings.reminder_deadline_days),
            training_hours=tuple(settings.reminder_training_hours),
            certificate_days=tuple(settings.reminder_certificate_days),
            draft_idle_days=settings.reminder_draft_idle_days,
            returned_idle_days=settings.reminder_returned_idle_days,
            quiet_start=settings.quiet_hours_start,
            quiet_end=settings.quiet_hours_end,
        )

    # (number, unit) pairs, largest first: the template words them ("14, 3 và 1 ngày", "1 ngày và 2 giờ").
    @property
    def deadline_offsets(self) -> tuple[tuple[int, str], ...]:
        return tuple((d, DAY) for d in self.deadline_days)

    @property
    def training_offsets(self) -> tuple[tuple[int, str], ...]:
        """Hours; a whole number of days as days (24 → 1 day)."""
        return tuple((h // 24, DAY) if h % 24 == 0 else (h, HOUR) for h in self.training_hours)

    @property
    def certificate_offsets(self) -> tuple[tuple[int, str], ...]:
        return tuple((d, DAY) for d in self.certificate_days)

    @property
    def quiet_hours(self) -> bool:
        """False when the start and the end are the same time: the job has no quiet hours."""
        return _clock(self.quiet_start) != _clock(self.quiet_end)

    @property
    def quiet_start_text(self) -> str:
        return _clock(self.quiet_start)

    @property
    def quiet_end_text(self) -> str:
        return _clock(self.quiet_end)
