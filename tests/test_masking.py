"""The masked-frame sampler: ratio, never everything, reproducible, clean targets, occluder modes."""
import numpy as np
import pytest

from opengait_gaitbert.core import ConfigError, DataError, MaskingPolicy, make_mask_fn, mask_sequence
from opengait_gaitbert.core.masking import (MODES, REGION_MODES, UNIT_GENERATORS, check_sequence,
                                            count_chosen_frames, moving_bar_lefts, rng_for_sequence)

H, W = 64, 44


def walker(s=30, h=H, w=W, seed=0):
    rng = np.random.default_rng(seed)
    seq = np.zeros((s, h, w), np.float32)
    for t in range(s):
        x = 10 + (t * 3) % 20
        seq[t, 8:60, x:x + 10] = 1.0
    return seq * rng.uniform(0.9, 1.0)


def frames_hidden(mask):
    return mask.reshape(mask.shape[0], -1).max(1) > 0


def runs_of(hidden):
    """(start, stop) of each run of True."""
    edges = np.diff(np.concatenate([[0], hidden.astype(int), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def hidden_box(frame_mask):
    """(rows, cols) that hold hidden pixels; asserts they form one full rectangle."""
    rows, cols = np.flatnonzero(frame_mask.any(1)), np.flatnonzero(frame_mask.any(0))
    assert frame_mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].all() and frame_mask.sum() == len(rows) * len(cols)
    assert len(rows) == rows[-1] - rows[0] + 1 and len(cols) == cols[-1] - cols[0] + 1
    return (int(rows[0]), int(rows[-1]) + 1), (int(cols[0]), int(cols[-1]) + 1)


# --- frame / patch ---------------------------------------------------

@pytest.mark.parametrize("ratio", [0.0, 0.1, 0.3, 0.5, 0.9, 0.99, 1.0])
def test_frame_ratio_and_never_all(ratio):
    policy = MaskingPolicy(mode="frame", ratio=ratio)
    for seed in range(50):
        s = 2 + seed % 29
        seq = walker(s)
        corrupted, mask = mask_sequence(seq, policy, np.random.default_rng(seed))
        hidden = frames_hidden(mask)
        assert hidden.sum() == int(np.clip(round(ratio * s), 1, s - 1))
        assert 1 <= hidden.sum() <= s - 1  # never empty, never all
        assert np.all(mask[hidden] == 1) and np.all(corrupted[hidden] == 0)
        assert np.array_equal(corrupted[~hidden], seq[~hidden])


def test_patch_mode_hides_squares_not_frames():
    policy = MaskingPolicy(mode="patch", ratio=0.5, patch_size=16, patches_per_frame=2)
    for seed in range(30):
        seq = walker(20)
        corrupted, mask = mask_sequence(seq, policy, np.random.default_rng(seed))
        assert frames_hidden(mask).sum() == 10
        per_frame = mask.reshape(20, -1).sum(1)
        assert per_frame.max() <= 2 * 256 and per_frame[per_frame > 0].min() >= 256
        assert np.all(corrupted[mask == 1] == 0) and np.array_equal(corrupted[mask == 0], seq[mask == 0])


def test_patch_mode_works_on_a_single_frame():
    corrupted, mask = mask_sequence(walker(1), MaskingPolicy(mode="patch"), np.random.default_rng(0))
    assert 0 < mask.sum() < mask.size


def test_patches_that_could_cover_a_frame_are_rejected():
    """4 x 3 squares of 16 px can tile 64x44; 11 never can."""
    policy = MaskingPolicy(mode="patch", ratio=1.0, patch_size=16, patches_per_frame=11)
    mask_sequence(walker(4), policy, np.random.default_rng(0))
    with pytest.raises(ConfigError, match=r"`patches_per_frame` = 12 .* allowed: at most 11"):
        mask_sequence(walker(4), MaskingPolicy(mode="patch", patch_size=16, patches_per_frame=12), np.random.default_rng(0))


def test_patch_larger_than_frame_is_rejected():
    with pytest.raises(ConfigError, match="patch_size"):
        make_mask_fn(MaskingPolicy(mode="patch", patch_size=44))(walker(4))


# --- guarantees shared by the region modes ------------------------------------

@pytest.mark.parametrize("mode", REGION_MODES)
@pytest.mark.parametrize("ratio", [0.0, 0.3, 0.7, 1.0])
def test_region_modes_touch_round_ratio_frames_and_never_a_whole_frame(mode, ratio):
    # band_size up to 0.99: 0.99 * 44 rounds to 44, so the clip to 43 is exercised
    policy = MaskingPolicy(mode=mode, ratio=ratio, patch_size=16, patches_per_frame=11, band_size=[0.9, 0.99])
    for seed in range(40):
        s = 1 + seed % 30
        seq = walker(s)
        corrupted, mask = mask_sequence(seq, policy, np.random.default_rng(seed))
        hidden = frames_hidden(mask)
        assert hidden.sum() == int(np.clip(round(ratio * s), 1, s))  # may be all s frames
        assert mask.reshape(s, -1).min(1).max() == 0  # no frame entirely hidden
        assert np.all(corrupted[mask == 1] == 0) and np.array_equal(corrupted[mask == 0], seq[mask == 0])


@pytest.mark.parametrize("mode", ["band", "moving"])
def test_occluder_as_wide_as_the_frame_leaves_one_column(mode):
    """band_size 0.99 of 44 px rounds to 44: it is clipped to 43, whatever the run length."""
    policy = MaskingPolicy(mode=mode, ratio=1.0, band_sides=["left", "right"], band_size=[0.99, 0.99])
    widths = []
    for s in range(1, 10):
        mask = mask_sequence(walker(s), policy, np.random.default_rng(s))[1]
        assert frames_hidden(mask).all() and mask.reshape(s, -1).min(1).max() == 0
        widths.append(mask.sum(2).max())
    assert max(widths) == W - 1  # (a moving bar shows its whole width mid-run on odd runs)


@pytest.mark.parametrize("mode", ["band", "moving"])
def test_occluder_modes_hide_one_contiguous_run(mode):
    policy = MaskingPolicy(mode=mode, ratio=0.4)
    starts = set()
    for seed in range(60):
        hidden = frames_hidden(mask_sequence(walker(30), policy, np.random.default_rng(seed))[1])
        (start, stop), = runs_of(hidden)
        assert stop - start == 12
        starts.add(start)
    assert len(starts) > 5  # the run is placed at random


# --- band ----------------------------------------------------------------------

def band_side(frame_mask):
    (top, bottom), (left, right) = hidden_box(frame_mask)
    h, w = frame_mask.shape
    if (left, right) == (0, w):
        assert top == 0 or bottom == h, "a full-width band must touch the top or the bottom"
        return ("top" if top == 0 else "bottom"), bottom - top, h
    assert (top, bottom) == (0, h), "a band is full-height or full-width"
    assert left == 0 or right == w, "a full-height band must touch the left or the right"
    return ("left" if left == 0 else "right"), right - left, w


@pytest.mark.parametrize("sides", [["top", "bottom", "left", "right"], ["bottom"], ["left", "right"]])
@pytest.mark.parametrize("size", [[0.2, 0.5], [0.1, 0.1], [0.6, 0.9]])
def test_band_is_static_on_an_allowed_side_within_band_size(sides, size):
    policy = MaskingPolicy(mode="band", ratio=0.5, band_sides=sides, band_size=size)
    for seed in range(40):
        mask = mask_sequence(walker(20), policy, np.random.default_rng(seed))[1]
        hidden = frames_hidden(mask)
        first = mask[hidden][0]
        assert all(np.array_equal(m, first) for m in mask[hidden])  # static during the run
        side, thickness, extent = band_side(first)
        assert side in sides
        assert round(size[0] * extent) <= thickness <= round(size[1] * extent)


def test_band_side_and_thickness_are_drawn_per_sequence():
    policy = MaskingPolicy(mode="band", ratio=0.3)
    seen = [band_side(m[frames_hidden(m)][0])[:2]
            for m in (mask_sequence(walker(20), policy, np.random.default_rng(seed))[1] for seed in range(80))]
    assert {side for side, _ in seen} == {"top", "bottom", "left", "right"}
    assert len({thickness for side, thickness in seen if side == "bottom"}) > 3


# --- moving ------------------------------------------------------------------

def bar_columns(mask):
    """[(first col, stop col)] of a full-height bar in each hidden frame."""
    cols = []
    for frame in mask[frames_hidden(mask)]:
        (top, bottom), (left, right) = hidden_box(frame)
        assert (top, bottom) == (0, frame.shape[0]), "the bar is full-height"
        cols.append((left, right))
    return np.array(cols)


@pytest.mark.parametrize("s,ratio", [(30, 0.3), (30, 1.0), (8, 0.5), (60, 0.9)])
def test_moving_bar_crosses_the_frame_at_constant_speed(s, ratio):
    size = (0.1, 0.3)
    policy = MaskingPolicy(mode="moving", ratio=ratio, band_size=size)
    directions = set()
    for seed in range(30):
        cols = bar_columns(mask_sequence(walker(s), policy, np.random.default_rng(seed))[1])
        rightwards = bool(cols[0, 0] == 0)
        directions.add(rightwards)
        if not rightwards:  # mirror, then check as left-to-right
            cols = W - cols[:, ::-1]  # [l, r) -> [W - r, W - l)
        left, right = cols[:, 0], cols[:, 1]
        assert left[0] == 0 and right[-1] == W  # enters at one edge, leaves at the other
        assert np.all(np.diff(left) >= 0) and np.all(np.diff(right) >= 0) and np.diff(left + right).sum() > 0
        assert (right - left).max() <= round(size[1] * W)
        lead = right[right < W]  # the leading edge, while inside the frame
        if len(lead) > 2:
            assert np.ptp(np.diff(lead)) <= 1  # constant speed, up to rounding
    assert directions == {True, False}


def test_moving_bar_positions():
    assert list(moving_bar_lefts(5, 44, 5, True)) == [-4, 8, 20, 31, 43]
    assert list(moving_bar_lefts(5, 44, 5, False)) == [43, 31, 20, 8, -4]
    assert list(moving_bar_lefts(1, 44, 5, True)) == [20]


# --- mixtures ------------------------------------------------------------------

def is_frame_mode_mask(mask):
    hidden = frames_hidden(mask)
    return bool(np.all(mask[hidden] == 1))


@pytest.mark.parametrize("weights,share", [(None, 0.5), ([3, 1], 0.75), ([1, 9], 0.1)])
def test_mixture_draws_a_mode_per_sequence_with_its_weight(weights, share):
    policy = MaskingPolicy(mode=["frame", "band"], ratio=0.3, mode_weights=weights)
    draws = [is_frame_mode_mask(mask_sequence(walker(20), policy, np.random.default_rng(seed))[1])
             for seed in range(600)]
    assert abs(np.mean(draws) - share) < 0.06


def test_mixture_mixes_modes_within_a_batch():
    fn = make_mask_fn(MaskingPolicy(mode=["frame", "moving"], seed=3))
    batch = [fn(walker(30, seed=i))[1] for i in range(16)]
    assert {is_frame_mode_mask(m) for m in batch} == {True, False}


def test_mixture_ratio_per_mode():
    """A list ratio gives each mode its own share of frames: a full-clip band next to 30 % frame drops."""
    policy = MaskingPolicy(mode=["band", "frame"], ratio=[1.0, 0.3])
    s = 20
    counts = {True: set(), False: set()}
    for seed in range(60):
        mask = mask_sequence(walker(s), policy, np.random.default_rng(seed))[1]
        counts[is_frame_mode_mask(mask)].add(int(frames_hidden(mask).sum()))
    assert counts == {True: {6}, False: {20}}
    assert count_chosen_frames(s, policy, "band") == 20 and count_chosen_frames(s, policy, "frame") == 6


def test_mixture_min_frames_is_its_most_demanding_mode():
    assert MaskingPolicy(mode=["patch", "band", "moving"]).min_frames == 1
    assert MaskingPolicy(mode=["band", "frame"]).min_frames == 2
    check_sequence(walker(1), MaskingPolicy(mode=["patch", "moving"]))
    with pytest.raises(DataError, match="too short"):
        check_sequence(walker(1), MaskingPolicy(mode=["moving", "frame"]))


def test_single_mode_spends_no_draw_on_choosing_it():
    """A one-mode policy gives the same units as its generator on the same stream (old masks unchanged)."""
    for mode in MODES:
        policy = MaskingPolicy(mode=mode, ratio=0.4)
        units = UNIT_GENERATORS[mode](30, H, W, policy, np.random.default_rng(5))
        expected = np.zeros((30, H, W), np.float32)
        for t, rows, cols in units:
            expected[t, rows, cols] = 1
        assert np.array_equal(mask_sequence(walker(30), policy, np.random.default_rng(5))[1], expected)


# --- every mode ----------------------------------------------------------------

ALL_POLICIES = [dict(mode=m) for m in MODES] + [dict(mode=["frame", "patch", "band", "moving"])]


@pytest.mark.parametrize("kwargs", ALL_POLICIES, ids=lambda k: str(k["mode"]))
def test_target_is_never_modified(kwargs):
    seq = walker(30)
    before = seq.copy()
    for seed in range(5):
        make_mask_fn(MaskingPolicy(ratio=0.5, seed=seed, **kwargs))(seq)
    assert np.array_equal(seq, before)


@pytest.mark.parametrize("kwargs", ALL_POLICIES, ids=lambda k: str(k["mode"]))
def test_seeded_mask_is_the_same_for_the_same_content(kwargs):
    fn = make_mask_fn(MaskingPolicy(ratio=0.3, seed=7, **kwargs))
    a = walker(30, seed=1)
    assert np.array_equal(fn(a)[1], fn(a.copy())[1])
    assert np.array_equal(fn(a)[1], make_mask_fn(MaskingPolicy(ratio=0.3, seed=7, **kwargs))(a)[1])


def test_seeded_generator_is_keyed_on_seed_and_content():
    """Same (seed, content) -> same stream; another clip or another seed -> another stream."""
    def stream(seed, clip):
        return rng_for_sequence(MaskingPolicy(seed=seed), clip).integers(0, 2**62, size=4).tolist()
    a, b = walker(30, seed=1), walker(30, seed=2)
    assert stream(7, a) == stream(7, a.copy())
    streams = [stream(seed, clip) for seed in (7, 8) for clip in (a, b)]
    assert len({tuple(x) for x in streams}) == 4


@pytest.mark.parametrize("kwargs", [dict(mode="frame"), dict(mode="patch")], ids=["frame", "patch"])
def test_seeded_masks_differ_across_contents_and_seeds(kwargs):
    """Seeds 7 and 8 on clips a and b: four masks, all distinct.

    Only modes with a huge mask space (C(30, 9) frame sets; patch places): a band
    or moving run has a few hundred placements, where two clips may rightly
    share one; their content keying is the generator's, tested above.
    """
    fns = [make_mask_fn(MaskingPolicy(ratio=0.3, seed=seed, **kwargs)) for seed in (7, 8)]
    clips = [walker(30, seed=1), walker(30, seed=2)]
    masks = {f(x)[1].tobytes() for f in fns for x in clips}
    assert len(masks) == 4


def test_unseeded_masks_follow_numpy_global_seed():
    fn = make_mask_fn(MaskingPolicy(mode=["frame", "band", "moving"], ratio=0.3))
    np.random.seed(3)
    first = [fn(walker(30))[1] for _ in range(4)]
    np.random.seed(3)
    assert all(np.array_equal(m, fn(walker(30))[1]) for m in first)


@pytest.mark.parametrize("kwargs", ALL_POLICIES, ids=lambda k: str(k["mode"]))
def test_hidden_content_is_zeroed_and_the_rest_kept(kwargs):
    """The input is the clean clip with exactly the masked positions zeroed (MAE's hiding)."""
    seq = walker(30)
    for seed in range(10):
        corrupted, mask = mask_sequence(seq, MaskingPolicy(ratio=0.3, **kwargs), np.random.default_rng(seed))
        assert mask.any() and np.array_equal(corrupted, np.where(mask == 1, 0, seq))


def test_count_chosen_frames_bounds():
    assert count_chosen_frames(2, MaskingPolicy(mode="frame", ratio=0.99)) == 1
    assert count_chosen_frames(100, MaskingPolicy(mode="frame", ratio=0.0)) == 1
    assert count_chosen_frames(3, MaskingPolicy(mode="patch", ratio=0.99)) == 3
    assert count_chosen_frames(30, MaskingPolicy(mode="frame", ratio=1.0)) == 29
    for mode in REGION_MODES:
        assert count_chosen_frames(30, MaskingPolicy(mode=mode, ratio=1.0)) == 30
    mixture = MaskingPolicy(mode=["frame", "band"], ratio=1.0)
    assert count_chosen_frames(30, mixture, "band") == 30 and count_chosen_frames(30, mixture, "frame") == 29
    with pytest.raises(ValueError, match="pass `mode`"):
        count_chosen_frames(30, mixture)


# --- configuration errors ----------------------------------------------------------

@pytest.mark.parametrize("kwargs,key", [
    (dict(mode="frames"), "mode"), (dict(mode=[]), "mode"), (dict(mode=["band", "wall"]), "mode"),
    (dict(mode=["band", "band"]), "mode"), (dict(mode=3), "mode"),
    (dict(ratio=1.01), "ratio"), (dict(ratio=-0.1), "ratio"), (dict(ratio=float("nan")), "ratio"),
    (dict(ratio="0.3"), "ratio"), (dict(mode=["band", "frame"], ratio=[1.0]), "ratio"),
    (dict(mode=["band", "frame"], ratio=[1.0, 1.2]), "ratio"),
    (dict(patch_size=0), "patch_size"),
    (dict(patches_per_frame=0), "patches_per_frame"),
    (dict(band_sides="top"), "band_sides"), (dict(band_sides=[]), "band_sides"),
    (dict(band_sides=["top", "up"]), "band_sides"), (dict(band_sides=["top", "top"]), "band_sides"),
    (dict(band_size=0.3), "band_size"), (dict(band_size=[0.5, 0.2]), "band_size"),
    (dict(band_size=[0.0, 0.2]), "band_size"), (dict(band_size=[0.2, 1.0]), "band_size"),
    (dict(band_size=[0.2, 0.3, 0.4]), "band_size"), (dict(band_size=["0.2", 0.3]), "band_size"),
    (dict(mode=["band", "moving"], mode_weights=[1]), "mode_weights"),
    (dict(mode=["band", "moving"], mode_weights=[1, 0]), "mode_weights"),
    (dict(mode=["band", "moving"], mode_weights=[1, -2]), "mode_weights"),
    (dict(mode=["band", "moving"], mode_weights=[1, float("inf")]), "mode_weights"),
    (dict(mode="band", mode_weights=[1, 1]), "mode_weights"), (dict(mode_weights=2), "mode_weights"),
    (dict(seed=1.5), "seed"),
])
def test_policy_errors_name_the_key_value_and_allowed(kwargs, key):
    with pytest.raises(ConfigError, match=f"`{key}` = .*(is invalid|allowed)") as err:
        MaskingPolicy(**kwargs)
    assert f"`{key}` = {kwargs[key]!r}" in str(err.value) and "allowed" in str(err.value)


def kind_of(mask):
    """What a mask hides: ``frames`` (whole frames), ``band`` (one static region at an edge) or
    ``moving`` (a full-height bar whose columns move), from the mask alone."""
    hidden = frames_hidden(mask)
    if np.all(mask[hidden] == 1):
        return "frames"
    boxes = {hidden_box(mask[t] > 0) for t in np.flatnonzero(hidden)}
    if len(boxes) == 1:
        (top, bottom), (left, right) = boxes.pop()
        assert top == 0 or left == 0 or bottom == H or right == W, "a band touches an edge"
        return "band"
    assert all(rows == (0, H) for rows, _ in boxes), "a moving bar is full height"
    return "moving"


def masks_of(policy, draws=60, s=30):
    return [mask_sequence(walker(s, seed=i), policy, np.random.default_rng(i))[1] for i in range(draws)]


def test_ratio_zero_still_hides_one_frame():
    assert all(frames_hidden(m).sum() == 1 for m in masks_of(MaskingPolicy(ratio=0.0)))


@pytest.mark.parametrize("ratio", [1.0, 1])
def test_ratio_one_hides_all_frames_but_one(ratio):
    assert all(frames_hidden(m).sum() == 29 for m in masks_of(MaskingPolicy(mode="frame", ratio=ratio)))


def test_a_one_mode_list_is_that_mode():
    masks = masks_of(MaskingPolicy(mode=["band"], ratio=0.5))
    assert {kind_of(m) for m in masks} == {"band"}
    assert all(len(runs_of(frames_hidden(m))) == 1 and frames_hidden(m).sum() == 15 for m in masks)


def test_a_mixture_draws_each_of_its_modes():
    kinds = [kind_of(m) for m in masks_of(MaskingPolicy(mode=("frame", "moving"), ratio=0.5))]
    assert set(kinds) == {"frames", "moving"} and 15 <= kinds.count("moving") <= 45


def test_mode_weights_set_how_often_each_mode_is_drawn():
    kinds = [kind_of(m) for m in masks_of(MaskingPolicy(mode=["band", "moving"], mode_weights=[0.2, 3]), 200)]
    # band is drawn with probability 0.2 / 3.2 = 1/16: about 12 of 200 (binomial std 3.4)
    assert 2 <= kinds.count("band") <= 25


def test_band_sides_limit_where_the_band_stands():
    for mask in masks_of(MaskingPolicy(mode="band", band_sides=("left",))):
        (rows, (left, right)), = {hidden_box(mask[t] > 0) for t in np.flatnonzero(frames_hidden(mask))}
        assert rows == (0, H) and left == 0 and right < W


def test_an_equal_band_size_range_is_one_thickness():
    for mask in masks_of(MaskingPolicy(mode="band", band_sides=("top", "right"), band_size=[0.3, 0.3])):
        (top, bottom), (left, right) = hidden_box(mask[np.flatnonzero(frames_hidden(mask))[0]] > 0)
        assert (bottom - top, right - left) in {(round(0.3 * H), W), (H, round(0.3 * W))}


def test_the_widest_band_size_range_never_covers_the_frame():
    widths = set()
    for mask in masks_of(MaskingPolicy(mode="moving", band_size=(0.01, 0.99), ratio=1.0), 100):
        assert kind_of(mask) == "moving"
        widths |= {right - left for _, (left, right) in
                   (hidden_box(mask[t] > 0) for t in np.flatnonzero(frames_hidden(mask)))}
    assert 1 <= min(widths) and max(widths) <= W - 1 and max(widths) - min(widths) > W // 2


def test_mode_typo_suggests():
    with pytest.raises(ConfigError, match="Did you mean `frame`"):
        MaskingPolicy(mode="frames")
    with pytest.raises(ConfigError, match="Did you mean `moving`"):
        MaskingPolicy(mode=["band", "movng"])


@pytest.mark.parametrize("seq,match", [
    (np.zeros((0, 64, 44), np.float32), "too short"),
    (np.ones((1, 64, 44), np.float32), "too short"),
    (np.ones((64, 44), np.float32), r"\[s, h, w\]"),
    (np.ones((5, 3, 64, 44), np.float32), "last step of its Compose"),
    (np.full((5, 64, 44), 255.0, np.float32), "divsor"),
    (np.zeros((5, 64, 44), np.float32), "background"),
    (np.full((5, 64, 44), np.nan, np.float32), "NaN"),
    (np.array([["a"]]), r"\[s, h, w\]"),
])
def test_bad_sequences_are_rejected(seq, match):
    with pytest.raises(DataError, match=match):
        make_mask_fn(MaskingPolicy(mode="frame"))(seq)


@pytest.mark.parametrize("mode", ["band", "moving"])
def test_occluder_modes_reject_frames_too_small_to_split(mode):
    with pytest.raises(DataError, match="at least 2x2"):
        mask_sequence(np.ones((4, 64, 1), np.float32), MaskingPolicy(mode=mode), np.random.default_rng(0))
