import pytest

from localcloud.errors import LocalCloudError
from localcloud.patching import Patches


class Base:
    def greet(self) -> str:
        return "base"


class Child(Base):
    def own(self) -> str:
        return "own"


def test_patches_are_undone_including_inherited_attributes() -> None:
    patches = Patches("test")
    patches.add(Child, "greet", lambda self: "patched")
    patches.add(Child, "own", lambda self: "patched own")

    patches.install()
    patched = (Child().greet(), Child().own(), Base().greet())
    patches.uninstall()

    assert patched == ("patched", "patched own", "base")
    assert (Child().greet(), Child().own()) == ("base", "own")
    assert "greet" not in Child.__dict__


def test_a_second_owner_cannot_patch_the_same_attribute() -> None:
    first, second = Patches("first"), Patches("second")
    first.add(Child, "own", lambda self: "first")
    second.add(Child, "own", lambda self: "second")
    first.install()
    try:
        with pytest.raises(LocalCloudError, match="already patched by first"):
            second.install()
        assert Child().own() == "first"
    finally:
        first.uninstall()
    assert Child().own() == "own"
