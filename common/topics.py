"""The kinds of messages a producer may receive without asking, which they can turn off one by one
(/caidat, and the "Không nhận loại tin này" button under a broadcast or reminder).

Every topic is on by default; `users.muted_topics` lists the ones a user turned off. Status notices
about the user's own dossier are not a topic: they are always sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Topic(StrEnum):
    GENERAL = "general"  # staff announcements to everyone or a segment
    EVENTS = "events"  # trainings, fairs, events in the user's audience; reminders of registered trainings
    ROUNDS = "rounds"  # registration windows / rating rounds opening, commune deadlines
    DOSSIER = "dossier"  # nudges about the user's unfinished or returned dossier
    CERTIFICATE = "certificate"  # a certificate nearing its valid-until date (re-rating)


TOPICS: tuple[Topic, ...] = tuple(Topic)


def parse_topic(value: str) -> Topic | None:
    try:
        return Topic(value)
    except ValueError:
        return None


def receives(muted: Iterable[str] | None, topic: Topic) -> bool:
    """Whether a user with these muted topics receives messages of `topic`."""
    return topic.value not in set(muted or ())
