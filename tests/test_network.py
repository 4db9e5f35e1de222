"""GaitBERTNet: shapes, sequence layouts, gradients, encoder-only inference."""
import numpy as np
import pytest
import torch

from opengait_gaitbert.core import ConfigError, DataError, GaitBERTNet, NetworkConfig
from opengait_gaitbert.core.sequences import SequenceLayout
from tiny_model import UNET_RECIPE

SMALL = dict(**UNET_RECIPE, channels=[4, 8, 16], embed_stride=1, temporal_dim=16, temporal_layers=1, temporal_heads=2,
             embed_dim=8, class_num=5)


def small_net(**overrides):
    torch.manual_seed(0)
    return GaitBERTNet(NetworkConfig(**{**SMALL, **overrides}))


@pytest.mark.parametrize("n,s", [(1, 1), (2, 7), (3, 30)])
@pytest.mark.parametrize("temporal", ["transformer", "conv", "none"])
def test_clip_shapes(n, s, temporal):
    net = small_net(temporal=temporal).eval()  # eval BN: n = 1 is a valid test batch
    with torch.no_grad():
        out = net(torch.rand(n, s, 64, 44), reconstruct=True)
    assert out["embeddings"].shape == (n, 8, 16)
    assert out["logits"].shape == (n, 5, 16)
    assert out["reconstruction"].shape == (n, s, 64, 44)


def test_resnet9_encoder_has_gaitbase_layout_and_reconstructs_full_frames():
    """GaitBase's backbone layout: full-resolution stage, two halvings, a last stage at the
    bottleneck; the decoder mirrors the skips and restores 64x44; packed sequences stay apart."""
    net = small_net(encoder="resnet9", channels=[4, 8, 16, 32]).eval()
    assert [stage.conv1.stride for stage in net.encoder.stages] == [(1, 1), (2, 2), (2, 2), (1, 1)]
    seqs = [torch.rand(1, length, 64, 44) for length in (5, 3)]
    with torch.no_grad():
        encoded = net.forward_encoder(torch.cat(seqs, dim=1), [[5, 3]])
        recon = net.forward_decoder(encoded)
        alone = torch.cat([net.embed(seq) for seq in seqs])
        packed = net.forward_embedding(encoded)[0]
    assert encoded.bottleneck.shape == (8, 32, 16, 11)
    assert [tuple(skip.shape[1:]) for skip in encoded.skips] == [(4, 64, 44), (8, 32, 22)]
    assert recon.shape == (1, 8, 64, 44)
    torch.testing.assert_close(packed, alone, atol=1e-5, rtol=1e-4)


def test_packed_seqL_shapes_and_padding_tail():
    net = small_net().train()
    x = torch.rand(1, 40, 64, 44)  # OpenGait may leave frames after sum(seqL)
    out = net(x, torch.tensor([[10, 3, 22]]), reconstruct=True)
    assert out["embeddings"].shape == (3, 8, 16)
    assert out["reconstruction"].shape == (1, 40, 64, 44)
    assert torch.all(out["reconstruction"][0, 35:] == 0)


@pytest.mark.parametrize("temporal", ["transformer", "conv"])
def test_packed_sequences_do_not_mix(temporal):
    """Each packed sequence's embedding equals the one it gets alone."""
    net = small_net(temporal=temporal).eval()
    seqs = [torch.rand(1, length, 64, 44) for length in (9, 4, 15)]
    with torch.no_grad():
        packed = net.embed(torch.cat(seqs, dim=1), [[9, 4, 15]])
        alone = torch.cat([net.embed(seq) for seq in seqs])
    torch.testing.assert_close(packed, alone, atol=1e-5, rtol=1e-4)


def test_other_frame_sizes_are_padded_and_cropped():
    net = small_net(frame_size=[128, 88], channels=[4, 8, 16, 16], bin_num=[16, 8])
    out = net(torch.rand(2, 5, 128, 88), reconstruct=True)
    assert out["reconstruction"].shape == (2, 5, 128, 88)
    assert out["embeddings"].shape == (2, 8, 24)
    odd = small_net(frame_size=[64, 64], channels=[4, 8, 16, 16], bin_num=[8])  # 64 % 8 == 0, no pad
    assert odd(torch.rand(2, 3, 64, 64), reconstruct=True)["reconstruction"].shape == (2, 3, 64, 64)


@pytest.mark.parametrize("encoder,embed_stride,channels", [("unet", 1, [4, 8, 16]), ("unet", 2, [4, 8]),
                                                           ("resnet9", 1, [4, 8, 16, 32])])
def test_gradients_reach_every_parameter(encoder, embed_stride, channels):
    net = small_net(encoder=encoder, embed_stride=embed_stride, channels=channels).train()
    out = net(torch.rand(2, 6, 64, 44))
    loss = out["reconstruction"].sigmoid().mean() + out["embeddings"].pow(2).mean() + out["logits"].mean()
    loss.backward()
    missing = [name for name, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_eval_runs_encoder_only():
    net = small_net()
    calls = []
    net.decoder.register_forward_hook(lambda *args: calls.append(1))
    net.eval()
    with torch.no_grad():
        out = net(torch.rand(1, 12, 64, 44))
        net.embed(torch.rand(1, 12, 64, 44))
    assert "reconstruction" not in out and calls == []
    net.train()
    net(torch.rand(2, 4, 64, 44))
    assert calls == [1]


def test_identical_packed_sequences_get_identical_embeddings():
    """Two identical packed sequences get identical embeddings: nothing depends on where a sequence sits."""
    net = small_net().eval()
    seq = torch.rand(1, 6, 64, 44)
    with torch.no_grad():
        emb = net.embed(torch.cat([seq, seq], 1), [[6, 6]])
    torch.testing.assert_close(emb[0], emb[1])


def test_order_reaches_the_transformer_only_through_the_offset_bias():
    """With the offset bias zeroed the temporal context is permutation-equivariant (no
    absolute positions anywhere); with a bias that favours the previous frame, order matters."""
    temporal = small_net().temporal.eval()
    layout = SequenceLayout.from_input(1, 6, None)
    x = torch.randn(6, 16, 4, 3)  # [F, c, h, w] bottleneck features of one 6-frame clip
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    with torch.no_grad():
        temporal.offset_bias.zero_()
        torch.testing.assert_close(temporal(x[perm], layout), temporal(x, layout)[perm], rtol=1e-4, atol=1e-5)
        temporal.offset_bias[temporal.window - 2] = 5.0  # offset -1: attend to the previous frame
        forward, backward = temporal(x, layout), temporal(x.flip(0), layout).flip(0)
    assert (forward - backward).abs().max() > 1e-2


@pytest.mark.parametrize("bad,key", [
    (dict(channels=[8]), "channels"),
    (dict(encoder="resnet"), "encoder"),
    (dict(encoder="resnet9", channels=[4, 8, 16]), "channels"),
    (dict(encoder="resnet9", channels=[4, 8, 16, 32], embed_stride=2), "embed_stride"),
    (dict(temporal="transformr"), "temporal"),
    (dict(temporal_dim=30, temporal_heads=4), "temporal_heads"),
    (dict(bin_num=[5]), "bin_num"),
    (dict(class_num=-1), "class_num"),
    (dict(part_lr={"encodr": 0.1}), "part_lr"),
    (dict(part_lr={"encoder": -0.1}), "part_lr"),
    (dict(frame_size=[64]), "frame_size"),
])
def test_config_errors_name_the_key(bad, key):
    with pytest.raises(ConfigError, match=f"`{key}`"):
        NetworkConfig.from_dict({**SMALL, **bad}, where="x.yaml: model_cfg")


def test_unknown_model_key_suggests_close_match():
    with pytest.raises(ConfigError, match=r"x.yaml: model_cfg: unknown key `chanels`. Did you mean `channels`\?"):
        NetworkConfig.from_dict({"model": "GaitBERT", "chanels": [4, 8]}, where="x.yaml: model_cfg")


@pytest.mark.parametrize("x,seqL,match", [
    (torch.rand(2, 5, 64, 64), None, "frame_size"),
    (torch.rand(5, 64, 44), None, r"\[n, s, h, w\]"),
    (torch.rand(1, 10, 64, 44), [[4, 0, 6]], "empty sequence"),
    (torch.rand(1, 10, 64, 44), [[8, 6]], "sums to 14"),
    (torch.rand(2, 10, 64, 44), [[5, 5]], "packed"),
])
def test_bad_input_is_a_clear_data_error(x, seqL, match):
    with pytest.raises(DataError, match=match):
        small_net()(x, seqL)


def test_attention_stays_within_windows():
    """With temporal_window 10, frames 0..9 ignore a change in frame 25; positions repeat per window."""
    net = small_net(temporal_window=10).eval()
    x = torch.rand(1, 30, 64, 44)
    changed = x.clone()
    changed[0, 25] = 1.0 - changed[0, 25]
    with torch.no_grad():
        a, b = net.forward_encoder(x).bottleneck, net.forward_encoder(changed).bottleneck
        periodic = net.forward_encoder(x[:, :10].repeat(1, 3, 1, 1)).bottleneck
    assert torch.equal(a[:20], b[:20]) and not torch.allclose(a[20:], b[20:])
    torch.testing.assert_close(periodic[:10], periodic[10:20])
    torch.testing.assert_close(periodic[:10], periodic[20:])


def test_per_sequence_transforms_see_each_packed_sequence_alone():
    """OpenGait hands a packed batch to the transform as one array; inside
    ``per_sequence`` each sequence is transformed on its own, then restored."""
    from opengait_gaitbert.core.sequences import per_sequence
    seen = []

    def first_frame_marker(seq):  # marks each sequence's first frame, as a per-sequence mask would
        seen.append(len(seq))
        out = seq.copy()
        out[0] = -1
        return out

    trfs = [first_frame_marker]
    packed = np.zeros((9, 2, 2))
    with per_sequence(trfs, np.array([[2, 3, 4]])):
        out = trfs[0](packed)
    assert seen == [2, 3, 4] and trfs == [first_frame_marker]
    assert [t for t in range(9) if out[t, 0, 0] == -1] == [0, 2, 5]
    with per_sequence(trfs, None):  # fixed-length clips: untouched
        assert trfs[0] is first_frame_marker
    with pytest.raises(DataError, match="holds 9 frames but seqL sums to 8"):
        with per_sequence(trfs, [[4, 4]]):
            trfs[0](packed)


@pytest.mark.parametrize("view", ["clean", "both"])
def test_identity_view_picks_the_clip_the_identity_losses_see(view):
    """``clean``: identity rows come from the unmasked clip; ``both``: [masked..., clean...].
    Either way the decoder reconstructs from the masked clip only."""
    net = small_net(identity_view=view).eval()
    masked, clean = torch.rand(1, 12, 64, 44), torch.rand(1, 12, 64, 44)
    seqL = [[5, 7]]
    with torch.no_grad():
        out = net(masked, seqL, reconstruct=True, clean=clean)
        expected = net.embed(clean, seqL)
        if view == "both":
            expected = torch.cat([net.embed(masked, seqL), expected])
        torch.testing.assert_close(out["embeddings"], expected)
        torch.testing.assert_close(out["reconstruction"], net(masked, seqL, reconstruct=True)["reconstruction"])
    assert out["logits"].shape[0] == expected.shape[0]


def test_identity_view_clean_trains_the_encoder_from_both_clips():
    """The identity loss reaches the encoder through the clean clip, the reconstruction
    through the masked one: each alone gives the shared encoder a gradient."""
    net = small_net(identity_view="clean").train()
    masked, clean = torch.rand(2, 6, 64, 44), torch.rand(2, 6, 64, 44)
    weight = net.encoder.levels[0][0].weight
    out = net(masked, reconstruct=True, clean=clean)
    identity_grad = torch.autograd.grad(out["embeddings"].square().sum(), weight, retain_graph=True)[0]
    recon_grad = torch.autograd.grad(out["reconstruction"].square().sum(), weight)[0]
    assert identity_grad.abs().sum() > 0 and recon_grad.abs().sum() > 0
    with torch.no_grad():  # and the identity rows are the clean clip's alone
        net.eval()
        torch.testing.assert_close(net(masked, reconstruct=True, clean=clean)["embeddings"], net.embed(clean))


@pytest.mark.parametrize("seqL", [None, [[5, 7, 4, 6, 3]]])
def test_reconstruct_fraction_reconstructs_the_first_sequences_and_identifies_all(seqL):
    """``reconstruct_fraction: 0.5`` of 5 sequences: the decoder sees the first 3, exactly as a
    batch of those 3 alone would give; the identity rows still cover all 5 clean clips."""
    net = small_net(identity_view="clean", reconstruct_fraction=0.5).eval()
    shape = (5, 6, 64, 44) if seqL is None else (1, 25, 64, 44)
    masked, clean = torch.rand(shape), torch.rand(shape)
    first = masked[:3] if seqL is None else masked[:, :16]
    with torch.no_grad():
        out = net(masked, seqL, reconstruct=True, clean=clean)
        alone = net(first, None if seqL is None else [[5, 7, 4]], reconstruct=True)["reconstruction"]
        torch.testing.assert_close(out["reconstruction"], alone)
        torch.testing.assert_close(out["embeddings"], net.embed(clean, seqL))
    assert out["logits"].shape[0] == 5


@pytest.mark.parametrize("seqL", [None, [[5, 7, 4, 6, 3]]])
def test_both_views_with_a_fraction_add_masked_rows_for_the_reconstructed_share_only(seqL):
    """``identity_view: both`` with ``reconstruct_fraction: 0.5`` of 5 sequences: identity rows are
    the first 3 masked clips (the ones the decoder reconstructs), then all 5 clean clips."""
    net = small_net(identity_view="both", reconstruct_fraction=0.5).eval()
    shape = (5, 6, 64, 44) if seqL is None else (1, 25, 64, 44)
    masked, clean = torch.rand(shape), torch.rand(shape)
    first, first_seqL = (masked[:3], None) if seqL is None else (masked[:, :16], [[5, 7, 4]])
    with torch.no_grad():
        out = net(masked, seqL, reconstruct=True, clean=clean)
        torch.testing.assert_close(out["embeddings"], torch.cat([net.embed(first, first_seqL), net.embed(clean, seqL)]))
        torch.testing.assert_close(out["reconstruction"], net(first, first_seqL, reconstruct=True)["reconstruction"])
    assert out["logits"].shape[0] == 8


def test_reconstruct_fraction_keeps_both_gradients():
    net = small_net(identity_view="clean", reconstruct_fraction=0.25).train()
    masked, clean = torch.rand(4, 6, 64, 44), torch.rand(4, 6, 64, 44)
    out = net(masked, reconstruct=True, clean=clean)
    assert out["reconstruction"].shape == (1, 6, 64, 44) and out["embeddings"].shape[0] == 4
    weight = net.encoder.levels[0][0].weight
    identity_grad = torch.autograd.grad(out["embeddings"].square().sum(), weight, retain_graph=True)[0]
    recon_grad = torch.autograd.grad(out["reconstruction"].square().sum(), weight)[0]
    assert identity_grad.abs().sum() > 0 and recon_grad.abs().sum() > 0


@pytest.mark.parametrize("value", [1.5, -0.5, True, "half"])
def test_reconstruct_fraction_rejects_values_outside_0_1(value):
    with pytest.raises(ConfigError, match=r"`reconstruct_fraction` = .* is invalid; allowed: a number in \[0, 1\]"):
        NetworkConfig(**{**SMALL, "identity_view": "clean", "reconstruct_fraction": value})


@pytest.mark.parametrize("seqL", [None, [[5, 7, 4, 6, 3]]])
def test_reconstruct_fraction_0_is_the_clean_network_alone(seqL):
    """The ablation without the masked objective: no decoder weights, and a training pass is the
    clean clips' identity pass alone, whatever the masked input holds."""
    net = small_net(identity_view="clean", reconstruct_fraction=0.0)
    assert not list(net.decoder.parameters()) and list(small_net(identity_view="clean").decoder.parameters())
    shape = (5, 6, 64, 44) if seqL is None else (1, 25, 64, 44)
    clean = torch.rand(shape)
    with torch.no_grad():
        net.eval()
        out = net(torch.rand(shape), seqL, reconstruct=True, clean=clean, predict_features=True)
        assert set(out) == {"embeddings", "logits"}  # nothing reconstructed, nothing to predict
        torch.testing.assert_close(out["embeddings"], net.embed(clean, seqL))


@pytest.mark.parametrize("view", ["masked", "both"])
def test_reconstruct_fraction_0_needs_the_clean_identity_view(view):
    with pytest.raises(ConfigError, match=r"`reconstruct_fraction` = 0.0 is invalid; allowed: above 0 here\. "
                                          r"0 \(no masked pass\) needs identity_view: clean"):
        NetworkConfig(**{**SMALL, "identity_view": view, "reconstruct_fraction": 0.0})


@pytest.mark.parametrize("seqL", [None, [[5, 7, 4, 6, 3]]])
def test_predicted_features_are_the_masked_share_against_its_clean_clips(seqL):
    """``predict_features``: the first ``ceil(5 * 0.5) = 3`` masked clips' embeddings and the clean
    embeddings of the same 3 sequences; the masked ones carry gradient into the encoder."""
    net = small_net(identity_view="clean", reconstruct_fraction=0.5).train()
    shape = (5, 6, 64, 44) if seqL is None else (1, 25, 64, 44)
    masked, clean = torch.rand(shape), torch.rand(shape)
    out = net(masked, seqL, reconstruct=True, clean=clean, predict_features=True)
    assert out["masked_embeddings"].shape == out["clean_embeddings"].shape == (3, 8, 16)
    torch.testing.assert_close(out["clean_embeddings"], out["embeddings"][:3])
    weight = net.encoder.levels[0][0].weight
    assert torch.autograd.grad(out["masked_embeddings"].square().sum(), weight)[0].abs().sum() > 0
    first, first_seqL = (masked[:3], None) if seqL is None else (masked[:, :16], [[5, 7, 4]])
    with torch.no_grad():
        net.eval()  # batch statistics aside, they are the masked clips' own embeddings
        out = net(masked, seqL, reconstruct=True, clean=clean, predict_features=True)
        torch.testing.assert_close(out["masked_embeddings"], net.embed(first, first_seqL))


def test_predicted_features_leave_the_bnneck_statistics_to_the_clean_clips():
    """The masked pass's embeddings skip the BNNeck: its running statistics are the clean clips' alone,
    the same as a training pass without feature prediction."""
    masked, clean = torch.rand(4, 6, 64, 44), torch.rand(4, 6, 64, 44)
    stats = []
    for predict in (False, True):
        net = small_net(identity_view="clean", reconstruct_fraction=0.5).train()
        net(masked, reconstruct=True, clean=clean, predict_features=predict)
        stats.append(net.head.bnneck.running_mean.clone())
    torch.testing.assert_close(stats[0], stats[1])


@pytest.mark.parametrize("overrides", [{"identity_view": "masked"}, {"identity_view": "clean", "class_num": 0},
                                       {"identity_view": "both", "class_num": 0}])
def test_reconstruct_fraction_below_1_needs_the_clean_identity_view(overrides):
    """Where the identity losses or pretraining read the masked pass alone, it must cover every sequence."""
    with pytest.raises(ConfigError, match=r"`reconstruct_fraction` = 0.5 is invalid; allowed: 1 here\. "
                                          r"Below 1 needs identity_view: clean \(or both\) and class_num > 0"):
        NetworkConfig(**{**SMALL, **overrides, "reconstruct_fraction": 0.5})


def test_pretraining_encodes_no_clean_view():
    """Without identities (class_num 0) there is no identity loss to feed: one encoder pass."""
    assert small_net(identity_view="clean").config.encodes_clean_view
    assert not small_net(identity_view="clean", class_num=0).config.encodes_clean_view
    assert not small_net(identity_view="masked").config.encodes_clean_view


def test_boolean_switch_rejects_other_values():
    with pytest.raises(ConfigError, match="`part_visibility` = 'yes' is invalid; allowed: true or false"):
        NetworkConfig(**{**SMALL, "part_visibility": "yes"})


def test_identity_view_rejects_other_values_and_the_old_key():
    with pytest.raises(ConfigError, match=r"`identity_view` = 'claen' is invalid; allowed: clean \| masked \| both"):
        NetworkConfig(**{**SMALL, "identity_view": "claen"})
    with pytest.raises(ConfigError, match=r"model_cfg: `clean_view` was replaced by `identity_view`.*"
                                          r"`clean_view: true` is `identity_view: both`"):
        NetworkConfig.from_dict({**SMALL, "clean_view": True})


@pytest.mark.parametrize("key,says", [("mask_channel", r"removed on 2026-12-06: .*46\.7 against 49\.2"),
                                      ("spatial_layers", r"removed on 2026-12-06: .*36\.2")])
def test_a_removed_key_says_what_it_measured_and_the_fix(key, says):
    with pytest.raises(ConfigError, match=rf"my\.yaml: model_cfg: `{key}` was {says}.*Delete the key"):
        NetworkConfig.from_dict({**SMALL, key: 0}, where="my.yaml: model_cfg")


def test_part_visibility_zeroes_parts_blank_in_every_frame():
    """A strip blank in every frame gives a zero part, a strip with foreground a unit one; a
    strip with a sliver of foreground weighs what the sliver covers of VISIBLE_MASS."""
    from opengait_gaitbert.core.model import VISIBLE_MASS
    net = small_net(part_visibility=True, bin_num=[16, 4]).eval()  # 16 strips of 4 rows, 4 of 16
    x = torch.zeros(2, 6, 64, 44)
    x[:, :, :, 10:30] = 1.0  # a 20-column body over the whole height
    x[1, :, :32] = 0  # sequence 1: the top half hidden in every frame
    x[1, 2, 28:32, 10:12] = 1.0  # ... but for a sliver in one frame: 8 of 4 x 44 pixels
    with torch.no_grad():
        norms = net.embed(x).norm(dim=1)  # [2, 20]
    torch.testing.assert_close(norms[0], torch.ones(20))
    torch.testing.assert_close(norms[1, :7], torch.zeros(7))  # strips 0-6: blank in every frame
    torch.testing.assert_close(norms[1, 7], torch.tensor(8 / (4 * 44) / VISIBLE_MASS))
    torch.testing.assert_close(norms[1, 8:16], torch.ones(8))
    # pyramid bins of 16 rows: rows 0-15 and 16-31 are blank, rows 16-31 but for the sliver
    torch.testing.assert_close(norms[1, 16], torch.tensor(0.0))
    torch.testing.assert_close(norms[1, 17], torch.tensor(8 / (16 * 44) / VISIBLE_MASS))
    torch.testing.assert_close(norms[1, 18:], torch.ones(2))


def test_part_visibility_leaves_training_and_default_embeddings_raw():
    """Training (the identity losses) reads the raw embeddings; without the switch nothing changes."""
    x = torch.rand(2, 5, 64, 44)
    raw, visible = small_net(), small_net(part_visibility=True)
    torch.testing.assert_close(visible(x)["embeddings"], raw(x)["embeddings"])
    raw.eval(), visible.eval()
    with torch.no_grad():
        assert raw.forward_encoder(x).cell_mass is None  # the default path computes nothing more
        # every strip of a noise clip is visible: the parts are the raw ones made unit length
        torch.testing.assert_close(visible.embed(x), torch.nn.functional.normalize(raw.embed(x), dim=1))


def test_part_visibility_packed_sequences_match_each_alone():
    net = small_net(part_visibility=True).eval()
    a, b = torch.rand(1, 7, 64, 44), torch.rand(1, 4, 64, 44)
    b[:, :, 40:] = 0
    with torch.no_grad():
        packed = net.embed(torch.cat([a, b], dim=1), [[7, 4]])
        torch.testing.assert_close(packed, torch.cat([net.embed(a), net.embed(b)]))


def test_part_columns_split_strips_and_a_side_occluder_hides_whole_parts():
    """With part_columns 2 every strip is a left and a right part; a body whose left half is
    hidden in every frame keeps its right parts unit length and zeroes its left ones."""
    net = small_net(part_columns=2, part_visibility=True).eval()
    assert net.config.parts == 32 and net.head.fc.shape[0] == 32
    x = torch.zeros(1, 6, 64, 44)
    x[..., 12:32] = 1.0
    x[..., :24] = 0  # the bottleneck's 11 columns split 6 | 5: input columns 0-23 are the left parts
    with torch.no_grad():
        norms = net.embed(x).norm(dim=1)[0].reshape(16, 2)  # [strip, left | right]
    torch.testing.assert_close(norms[:, 0], torch.zeros(16))
    torch.testing.assert_close(norms[:, 1], torch.ones(16))
    with pytest.raises(ConfigError, match=r"`part_columns` = 3 is invalid; allowed: 1 or 2"):
        NetworkConfig(**{**SMALL, "part_columns": 3})


@pytest.mark.parametrize("encoder,channels,embed_stride", [("unet", [4, 8], 2), ("resnet9", [4, 8, 16, 32], 1)])
def test_a_checkpoint_reveals_its_encoder_and_widths(encoder, channels, embed_stride):
    """The tools' mismatch message reads the encoder kind and its widths back from the weights."""
    from opengait_gaitbert.tools.checkpoint import infer_model_cfg
    state = small_net(encoder=encoder, channels=channels, embed_stride=embed_stride).state_dict()
    found = infer_model_cfg(state)
    assert (found["encoder"], found["channels"], found["embed_stride"]) == (encoder, channels, embed_stride)


def test_basic_block_matches_torchvisions():
    """The resnet9 encoder's block computes what torchvision's BasicBlock (OpenGait's ResNet9's)
    computes with the same weights, which load by the same names."""
    resnet = pytest.importorskip("torchvision.models.resnet", reason="torchvision is not installed here; "
                                 "the block is compared wherever it is (the first README command installs it)")
    from opengait_gaitbert.core.network import BasicBlock
    torch.manual_seed(0)
    def shortcut():
        return torch.nn.Sequential(torch.nn.Conv2d(4, 8, 1, stride=2, bias=False), torch.nn.BatchNorm2d(8))

    ours, theirs = BasicBlock(4, 8, 2, shortcut()), resnet.BasicBlock(4, 8, 2, shortcut())
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(3, 4, 16, 12)
    for mode in (True, False):
        ours.train(mode), theirs.train(mode)
        torch.testing.assert_close(ours(x), theirs(x))


def test_temporal_conv_applies_its_conv3d_weights_over_each_sequence_alone():
    """The conv2d form computes what the stored (3, 1, 1) Conv3d computes, each packed sequence
    zero-padded at its own edges (checkpoints keep the Conv3d's weights)."""
    from opengait_gaitbert.core.network import TemporalConv
    torch.manual_seed(0)
    context = TemporalConv(channels=5, layers=2)
    lengths = [7, 3]
    x = torch.randn(sum(lengths), 5, 4, 3)  # [F, c, h, w], two sequences packed
    layout = SequenceLayout.from_input(1, sum(lengths), torch.tensor([lengths]))
    out = context(x, layout)
    for start, length in zip([0, lengths[0]], lengths):
        y = x[start:start + length].transpose(0, 1)[None]  # [1, c, L, h, w]
        for conv in context.layers:
            y = y + torch.relu(conv(y))
        torch.testing.assert_close(out[start:start + length], y[0].transpose(0, 1), rtol=1e-5, atol=1e-5)


def _running_statistics(module):
    return {name: buf.clone() for name, buf in module.named_buffers() if "running" in name}


@pytest.mark.parametrize("view", ["clean", "both"])
def test_masked_pass_leaves_running_statistics_to_the_clean_clips(view):
    """Inference normalises with the running statistics: with a clean view, the shared layers'
    are exactly those of the clean pass alone, while the decoder (masked pass only) learns its own."""
    overrides = dict(encoder="resnet9", channels=[4, 8, 16, 32], identity_view=view, reconstruct_fraction=0.5)
    net, clean_only = small_net(**overrides).train(), small_net(**overrides).train()
    clean, masked = torch.rand(4, 6, 64, 44), torch.rand(4, 6, 64, 44) * (torch.rand(4, 6, 1, 1) > 0.5)
    decoder_before = _running_statistics(net.decoder)
    net(masked, clean=clean, predict_features=view == "clean")
    with torch.no_grad():  # the same clean clips through the shared layers, nothing masked
        clean_only.forward_embedding(clean_only.forward_encoder(clean))
    shared = {k: v for k, v in _running_statistics(net).items() if not k.startswith("decoder.")}
    expected = {k: v for k, v in _running_statistics(clean_only).items() if not k.startswith("decoder.")}
    assert shared.keys() == expected.keys() and len(shared) > 10
    for name in shared:
        torch.testing.assert_close(shared[name], expected[name], msg=name)
    decoder_after = _running_statistics(net.decoder)
    assert any(not torch.equal(decoder_before[k], decoder_after[k]) for k in decoder_after)
    momenta = {m.momentum for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)}
    assert momenta == {0.1}  # restored after the masked pass


def test_running_statistics_restore_momentum_after_an_error():
    from opengait_gaitbert.core.batchnorm import running_statistics_frozen
    norm = torch.nn.BatchNorm1d(3, momentum=None)
    with pytest.raises(RuntimeError, match="inside"):
        with running_statistics_frozen(norm):
            norm(torch.randn(8, 3))
            assert torch.equal(norm.running_mean, torch.zeros(3))
            raise RuntimeError("inside")
    assert norm.momentum is None


def test_a_network_without_a_masked_pass_refuses_to_reconstruct():
    """reconstruct_fraction 0 builds no decoder: asking for a reconstruction (visualize) is a
    ConfigError naming the recipe that has one, and the identity path still runs."""
    net = small_net(identity_view="clean", reconstruct_fraction=0.0).eval()
    assert sum(p.numel() for p in net.decoder.parameters()) == 0
    with torch.no_grad():
        assert net.embed(torch.rand(1, 4, 64, 44)).shape == (1, 8, 16)
        with pytest.raises(ConfigError, match=r"reconstruct_fraction is 0.*no decoder.*gaitbert_casiab_masked\.yaml"):
            net(torch.rand(1, 4, 64, 44), reconstruct=True)
