"""The masked-frame sampler: ratio, never everything, reproducible, clean targets."""
import numpy as np
import pytest

from opengait_gaitbert.core import ConfigError, DataError, MaskingPolicy, make_mask_fn, mask_sequence
from opengait_gaitbert.core.masking import count_chosen_frames


def walker(s=30, h=64, w=44, seed=0):
    rng = np.random.default_rng(seed)
    seq = np.zeros((s, h, w), np.float32)
    for t in range(s):
        x = 10 + (t * 3) % 20
        seq[t, 8:60, x:x + 10] = 1.0
    return seq * rng.uniform(0.9, 1.0)


def frames_hidden(mask):
    return mask.reshape(mask.shape[0], -1).max(1) > 0


@pytest.mark.parametrize("mode", ["frame", "span"])
@pytest.mark.parametrize("ratio", [0.0, 0.1, 0.3, 0.5, 0.9, 0.99])
def test_frame_ratio_and_never_all(mode, ratio):
    policy = MaskingPolicy(mode=mode, ratio=ratio)
    for seed in range(50):
        s = 2 + seed % 29
        seq = walker(s)
        corrupted, mask = mask_sequence(seq, policy, np.random.default_rng(seed))
        hidden = frames_hidden(mask)
        assert hidden.sum() == int(np.clip(round(ratio * s), 1, s - 1))
        assert 1 <= hidden.sum() <= s - 1  # never empty, never all
        assert np.all(mask[hidden] == 1) and np.all(corrupted[hidden] == 0)
        assert np.array_equal(corrupted[~hidden], seq[~hidden])


@pytest.mark.parametrize("span_count", [1, 2, 3])
def test_span_mode_hides_contiguous_runs(span_count):
    policy = MaskingPolicy(mode="span", ratio=0.4, span_count=span_count)
    for seed in range(40):
        hidden = frames_hidden(mask_sequence(walker(30), policy, np.random.default_rng(seed))[1])
        starts = np.flatnonzero(np.diff(np.concatenate([[0], hidden.astype(int)])) == 1)
        assert len(starts) == span_count and hidden.sum() == 12


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


def test_target_is_never_modified():
    seq = walker(30)
    before = seq.copy()
    for mode in ("frame", "patch", "span"):
        make_mask_fn(MaskingPolicy(mode=mode, ratio=0.5, bert_policy=True))(seq)
    assert np.array_equal(seq, before)


def test_bert_policy_split():
    """Chosen frames: ~80% zeroed, ~10% another frame's content, ~10% unchanged; loss on all."""
    policy = MaskingPolicy(mode="frame", ratio=0.5, bert_policy=True)
    counts = np.zeros(3)
    for seed in range(400):
        seq = walker(20, seed=seed)
        corrupted, mask = mask_sequence(seq, policy, np.random.default_rng(seed))
        for t in np.flatnonzero(frames_hidden(mask)):
            if not corrupted[t].any():
                counts[0] += 1
            elif np.array_equal(corrupted[t], seq[t]):
                counts[2] += 1
            else:
                counts[1] += 1
    share = counts / counts.sum()
    assert abs(share[0] - 0.8) < 0.03 and abs(share[1] - 0.1) < 0.03 and abs(share[2] - 0.1) < 0.03


def test_seeded_masks_are_reproducible_and_content_keyed():
    fn = make_mask_fn(MaskingPolicy(mode="frame", ratio=0.3, seed=7))
    a, b = walker(30, seed=1), walker(30, seed=2)
    assert np.array_equal(fn(a)[1], fn(a.copy())[1])
    other_seed = make_mask_fn(MaskingPolicy(mode="frame", ratio=0.3, seed=8))
    masks = {frames_hidden(f(x)[1]).tobytes() for f in (fn, other_seed) for x in (a, b)}
    assert len(masks) > 1


def test_unseeded_masks_follow_numpy_global_seed():
    fn = make_mask_fn(MaskingPolicy(mode="span", ratio=0.3))
    np.random.seed(3)
    first = fn(walker(30))[1]
    np.random.seed(3)
    assert np.array_equal(first, fn(walker(30))[1])


def test_count_chosen_frames_bounds():
    assert count_chosen_frames(2, MaskingPolicy(ratio=0.99)) == 1
    assert count_chosen_frames(100, MaskingPolicy(ratio=0.0)) == 1
    assert count_chosen_frames(3, MaskingPolicy(mode="patch", ratio=0.99)) == 3


@pytest.mark.parametrize("kwargs,key", [
    (dict(mode="frames"), "mode"), (dict(ratio=1.0), "ratio"), (dict(ratio=-0.1), "ratio"),
    (dict(ratio="0.3"), "ratio"), (dict(patch_size=0), "patch_size"), (dict(span_count=0), "span_count"),
    (dict(bert_policy="yes"), "bert_policy"), (dict(seed=1.5), "seed"),
])
def test_policy_errors_name_the_key(kwargs, key):
    with pytest.raises(ConfigError, match=f"`{key}`"):
        MaskingPolicy(**kwargs)


def test_mode_typo_suggests():
    with pytest.raises(ConfigError, match="Did you mean `frame`"):
        MaskingPolicy(mode="frames")


@pytest.mark.parametrize("seq,match", [
    (np.zeros((0, 64, 44), np.float32), "too short"),
    (np.ones((1, 64, 44), np.float32), "too short"),
    (np.ones((64, 44), np.float32), r"\[s, h, w\]"),
    (np.full((5, 64, 44), 255.0, np.float32), "divsor"),
    (np.zeros((5, 64, 44), np.float32), "background"),
    (np.full((5, 64, 44), np.nan, np.float32), "NaN"),
    (np.array([["a"]]), r"\[s, h, w\]"),
])
def test_bad_sequences_are_rejected(seq, match):
    with pytest.raises(DataError, match=match):
        make_mask_fn(MaskingPolicy(mode="frame"))(seq)


def test_patch_larger_than_frame_is_rejected():
    with pytest.raises(ConfigError, match="patch_size"):
        make_mask_fn(MaskingPolicy(mode="patch", patch_size=44))(walker(4))
