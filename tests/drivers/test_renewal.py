"""Entries planned from the zones' rules of the years ahead are installed again each year."""

from __future__ import annotations

from datetime import date

from crontopus.drivers.renewal import installed_hash, next_january, stored_hash


def test_an_entry_without_a_renewal_date_keeps_its_hash_for_ever() -> None:
    assert stored_hash("3f1c", None) == "3f1c"
    assert installed_hash("3f1c", date(2099, 1, 1)) == "3f1c"


def test_an_entry_reports_its_jobs_hash_until_the_renewal_date() -> None:
    stored = stored_hash("3f1c", date(2027, 1, 1))
    assert stored == "3f1c:renew:2027-01-01"
    assert installed_hash(stored, date(2026, 12, 31)) == "3f1c"


def test_from_the_renewal_date_on_an_entry_reports_a_hash_no_job_has() -> None:
    stored = stored_hash("3f1c", date(2027, 1, 1))
    assert installed_hash(stored, date(2027, 1, 1)) not in {"3f1c", stored}
    assert installed_hash(stored, date(2031, 6, 1)) != "3f1c"


def test_a_renewal_date_edited_into_nonsense_is_planned_again() -> None:
    assert installed_hash("3f1c:renew:2027-13-45", date(2026, 1, 1)) != "3f1c"


def test_plans_for_the_years_ahead_are_renewed_each_january() -> None:
    assert next_january(date(2026, 12, 2)) == date(2027, 1, 1)
    assert next_january(date(2027, 1, 1)) == date(2028, 1, 1)
