from pathlib import Path

import pytest

from localcloud import profiles


def test_every_realistic_number_names_a_source() -> None:
    realistic = profiles.load("realistic")

    assert realistic.delays and realistic.counts
    assert all(realistic.sources[key] for key in [*realistic.delays, *realistic.counts])


def test_fast_has_the_same_structure_scaled_and_fixed() -> None:
    realistic, fast = profiles.load("realistic"), profiles.load("fast")

    assert fast.delays.keys() == realistic.delays.keys()
    assert fast.counts == realistic.counts
    boot = fast.delay("ec2.boot")
    assert boot.fixed and boot.low == pytest.approx(realistic.delay("ec2.boot").mean * 0.2)


def test_fast_override_carries_its_reason() -> None:
    fast = profiles.load("fast")

    assert fast.delay("asg.lifecycle_hook_timeout").low == 60
    assert fast.sources["asg.lifecycle_hook_timeout"].startswith("override:")


def test_unknown_profile_and_key() -> None:
    with pytest.raises(profiles.ProfileError, match="unknown time profile"):
        profiles.load("warp")
    with pytest.raises(profiles.ProfileError, match="no duration"):
        profiles.load("fast").delay("nope")


def test_number_without_source_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('name = "bad"\n[ec2.boot]\nseconds = 1\n')
    with pytest.raises(profiles.ProfileError, match="names no source"):
        profiles.load(str(path))


def test_sampling_stays_in_range() -> None:
    import random

    delay = profiles.load("realistic").delay("ec2.boot")
    rng = random.Random(7)
    assert all(delay.low <= delay.sample(rng) <= delay.high for _ in range(100))
