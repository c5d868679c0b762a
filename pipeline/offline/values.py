"""Checks of single values of a DAG, each refused with a :class:`SpecError` that names the
field, before anything is rendered."""

from __future__ import annotations

import datetime
import re

from pipeline.errors import UserError

# Airflow's schedule presets (Airflow 2.7+ and 3); None is spelt "None" on the command line.
PRESETS = (
    "@once",
    "@continuous",
    "@hourly",
    "@daily",
    "@weekly",
    "@monthly",
    "@quarterly",
    "@yearly",
)
# Never "now": the same input renders the same file.
DEFAULT_START_DATE = datetime.date(2024, 1, 1)

_DAG_ID = re.compile(r"[a-z][a-z0-9_]{0,199}")
_DNS_LABEL = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
# A distribution reference: [host[:port]/]path[:tag][@digest].
_IMAGE = re.compile(
    r"(?:(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]+)?)/)?"
    r"(?P<path>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?"
)


class SpecError(UserError):
    """A value of a DAG is wrong; ``field`` names it (``schedule``, ``gpu.type``, …) so the CLI
    can point at the line of the somlier.yaml that holds it."""

    def __init__(self, field: str, message: str, *, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.field = field


def check_dag_id(dag_id: str) -> str:
    if not _DAG_ID.fullmatch(dag_id):
        raise SpecError(
            "dag_id",
            f"dag_id {dag_id!r} is not valid",
            hint="use lowercase letters, digits and '_', starting with a letter "
            "(at most 200 characters)",
        )
    return dag_id


def parse_schedule(text: str) -> str | None:
    """An Airflow preset (``@daily``), ``None``, or a five-field cron expression, normalised
    (single spaces); anything else is a :class:`SpecError`."""
    if text == "None":
        return None
    if text.startswith("@"):
        if text in PRESETS:
            return text
        raise SpecError(
            "schedule",
            f"schedule {text!r} is not an Airflow preset",
            hint=f"use one of {', '.join(PRESETS)}, None, or a cron expression",
        )
    fields = text.split()
    if len(fields) != 5:
        raise SpecError(
            "schedule",
            f"schedule {text!r} is neither an Airflow preset nor a five-field cron expression",
            hint='e.g. "0 9 * * *" (09:00 every day), @daily, or None',
        )
    cron = " ".join(fields)
    from croniter import CroniterBadDateError, croniter  # 70 ms: only when a DAG is made

    if not croniter.is_valid(cron):
        raise SpecError(
            "schedule",
            f"schedule {text!r} is not a valid cron expression",
            hint="minute hour day-of-month month day-of-week, e.g. 0 9 * * 1-5",
        )
    try:
        croniter(cron, datetime.datetime(2024, 1, 1)).get_next(datetime.datetime)
    except CroniterBadDateError:
        raise SpecError(
            "schedule", f"schedule {text!r} never fires", hint="check the day and the month"
        ) from None
    return cron


def check_timezone(name: str) -> str:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise SpecError(
            "timezone",
            f"time zone {name!r} is unknown",
            hint="use an IANA name such as Asia/Seoul or UTC",
        ) from None
    return name


def parse_start_date(text: str | None) -> datetime.date:
    if text is None:
        return DEFAULT_START_DATE
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise SpecError(
            "start_date", f"start_date {text!r} is not a date", hint="YYYY-MM-DD"
        ) from None


def check_image(image: str) -> str:
    if not _IMAGE.fullmatch(image):
        raise SpecError(
            "image",
            f"{image!r} is not an image reference",
            hint="e.g. gcr.io/my-project/ml-my-example-project:latest",
        )
    return image


def project_from_image(image: str, prefix: str) -> str:
    """``gcr.io/p/ml-churn:latest`` with prefix ``ml-`` is project ``churn``."""
    found = _IMAGE.fullmatch(check_image(image))
    assert found is not None
    name = found.group("path").rsplit("/", 1)[-1]
    return name.removeprefix(prefix) if prefix and name != prefix else name


def check_project_name(name: str) -> str:
    if not _DNS_LABEL.fullmatch(name):
        raise SpecError(
            "project_name",
            f"project name {name!r} is not a DNS-1123 label (it names the job's pods)",
            hint="pass --project-name: lowercase letters, digits and '-'",
        )
    return name
