"""Every driver refuses unknown options and values outside their choices the same way."""

from __future__ import annotations

import pytest

from crontopus.drivers.errors import PermanentDriverError
from crontopus.drivers.options import YES_NO, check_known, choice


def test_an_unknown_option_is_refused_with_the_known_ones_listed() -> None:
    with pytest.raises(PermanentDriverError) as refused:
        check_known("systemd", {"scope": "user", "unitdir": "/x"}, ("unit_dir", "scope"))
    assert (
        str(refused.value) == "systemd driver options: unknown unitdir; known are unit_dir, scope"
    )


def test_known_options_pass() -> None:
    check_known("cron", {"user": "alice"}, ("user", "cron_tz"))


def test_a_choice_maps_its_value_and_falls_back_to_the_default() -> None:
    assert choice("cron", {"accept": "yes"}, "accept", YES_NO, "no") is True
    assert choice("cron", {}, "accept", YES_NO, "no") is False


def test_a_value_outside_the_choices_is_refused_with_every_choice_spelled_out() -> None:
    switches = {"auto": None, "yes": True, "no": False}
    with pytest.raises(PermanentDriverError) as refused:
        choice("cron", {"cron_tz": "maybe"}, "cron_tz", switches, "auto")
    assert str(refused.value) == "cron driver options: cron_tz='maybe' must be auto, yes or no"
