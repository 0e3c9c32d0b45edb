from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from truthloop.errors import InputError
from truthloop.sim.logo_recipes import RECIPES, logo_classes, logo_template
from truthloop.sim.logo_scenes import MAX_HIDDEN, LogoScene, render_scene


def _scenes(count: int, **kwargs: object) -> list[LogoScene]:
    return [render_scene(7, i, **kwargs) for i in range(count)]  # type: ignore[arg-type]


def _template_colour(class_index: int) -> np.ndarray:
    pixels = np.asarray(logo_template(class_index), dtype=np.float32)
    solid = pixels[:, :, 3] >= 255
    return pixels[:, :, :3][solid].mean(axis=0)


def test_same_seed_and_index_give_the_same_pixels_and_boxes() -> None:
    a, b = render_scene(3, 5), render_scene(3, 5)
    assert a.image.tobytes() == b.image.tobytes()
    assert [p.box for p in a.logos] == [p.box for p in b.logos]
    assert render_scene(3, 6).image.tobytes() != a.image.tobytes()
    assert render_scene(4, 5).image.tobytes() != a.image.tobytes()


def test_each_box_is_the_tight_box_of_the_logos_visible_pixels() -> None:
    logos = [logo for scene in _scenes(30) for logo in scene.logos]
    assert len(logos) > 50
    for logo in logos:
        b = logo.box
        left, top, right, bottom = int(b.left), int(b.top), int(b.right), int(b.bottom)
        assert 0 <= left < right <= 320 and 0 <= top < bottom <= 320
        mask = logo.visible
        inside = mask[top:bottom, left:right]
        assert inside.sum() == mask.sum(), "visible pixels outside the box"
        # Every edge of the box touches a visible pixel of the logo.
        assert inside[0].any() and inside[-1].any()
        assert inside[:, 0].any() and inside[:, -1].any()


def test_the_pixels_under_each_logos_mask_are_that_logo() -> None:
    # The first three classes are red, blue and green: the colour of the visible pixels alone
    # must point at the labeled class.
    colours = np.stack([_template_colour(i) for i in range(3)])
    checked = 0
    for scene in _scenes(30):
        pixels = np.asarray(scene.image, dtype=np.float32)
        for logo in scene.logos:
            if logo.visible.sum() < 400:
                continue
            mean = pixels[logo.visible].mean(axis=0)
            assert np.argmin(np.abs(colours - mean).sum(axis=1)) == logo.class_index
            checked += 1
    assert checked > 40


def test_logos_overlap_and_are_covered_a_little_but_never_past_the_limit() -> None:
    scenes = _scenes(80)
    hidden = [logo.hidden for scene in scenes for logo in scene.logos]
    assert max(hidden) <= MAX_HIDDEN
    assert sum(h > 0.1 for h in hidden) > 10
    overlapping = 0
    for scene in scenes:
        for a, b in combinations(scene.logos, 2):
            if (a.visible.any(axis=0) & b.visible.any(axis=0)).any() and (
                a.visible.any(axis=1) & b.visible.any(axis=1)
            ).any():
                overlapping += 1
            assert not (a.visible & b.visible).any()
    assert overlapping > 0


def test_detection_scenes_hold_zero_to_max_logos_of_every_class() -> None:
    scenes = _scenes(60, max_objects=4)
    counts = [len(s.logos) for s in scenes]
    assert min(counts) == 0 and max(counts) == 4
    assert {logo.label for s in scenes for logo in s.logos} == {"acme", "globex", "initech"}
    assert all(s.image.size == (320, 320) and s.image.mode == "RGB" for s in scenes)
    small = render_scene(7, 1, size=128, max_objects=1)
    assert small.image.size == (128, 128) and len(small.logos) <= 1


def test_classification_scenes_hold_one_large_logo() -> None:
    scenes = _scenes(20, mode="classification", classes=5)
    for scene in scenes:
        (logo,) = scene.logos
        assert logo.box.width >= 0.3 * 320 and logo.box.height >= 0.3 * 320
        assert logo.hidden <= MAX_HIDDEN
    assert len({s.logos[0].label for s in scenes}) >= 4


def test_logo_classes_keep_their_names_and_every_logo_differs() -> None:
    assert logo_classes(3) == ("acme", "globex", "initech")
    names = logo_classes(len(RECIPES))
    assert len(set(names)) == len(RECIPES) >= 10
    assert logo_classes(5) == names[:5]
    templates = [np.asarray(logo_template(i), dtype=np.float32) for i in range(len(RECIPES))]
    for t in templates:
        assert (t[:, :, 3] >= 255).mean() > 0.3
    # Even the look-alike pairs differ in a sizeable share of their pixels.
    for a, b in combinations(templates, 2):
        assert (np.abs(a - b).max(axis=2) > 60).mean() > 0.05


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"classes": 0}, "logo classes must be between 1 and 12, not 0"),
        ({"classes": 13}, "logo classes must be between 1 and 12, not 13"),
        ({"mode": "segmentation"}, "mode must be 'detection' or 'classification'"),
        ({"size": 10}, "image size must be between 64 and 4096 pixels, not 10"),
        ({"max_objects": 0}, "max_objects must be at least 1, not 0"),
    ],
)
def test_bad_arguments_are_refused_with_what_was_wrong(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        render_scene(0, 0, **kwargs)  # type: ignore[arg-type]


def test_negative_seed_or_index_is_refused() -> None:
    with pytest.raises(InputError, match="must not be negative"):
        render_scene(-1, 0)
    with pytest.raises(InputError, match="must not be negative"):
        render_scene(0, -1)
