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


def both_passes(net, x, seqL=None):
    """A pretraining pass (reconstruction) and a fine-tuning pass (embeddings, logits) of ``x``."""
    return {**net(x, seqL, reconstruct=True), **net(x, seqL)}


@pytest.mark.parametrize("n,s", [(1, 1), (2, 7), (3, 30)])
@pytest.mark.parametrize("temporal", ["transformer", "conv"])
def test_clip_shapes(n, s, temporal):
    net = small_net(temporal=temporal).eval()  # eval BN: n = 1 is a valid test batch
    with torch.no_grad():
        out = both_passes(net, torch.rand(n, s, 64, 44))
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
    out = both_passes(net, x, torch.tensor([[10, 3, 22]]))
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
    out = both_passes(net, torch.rand(2, 5, 128, 88))
    assert out["reconstruction"].shape == (2, 5, 128, 88)
    assert out["embeddings"].shape == (2, 8, 24)
    odd = small_net(frame_size=[64, 64], channels=[4, 8, 16, 16], bin_num=[8])  # 64 % 8 == 0, no pad
    assert odd(torch.rand(2, 3, 64, 64), reconstruct=True)["reconstruction"].shape == (2, 3, 64, 64)


@pytest.mark.parametrize("encoder,embed_stride,channels", [("unet", 1, [4, 8, 16]), ("unet", 2, [4, 8]),
                                                           ("resnet9", 1, [4, 8, 16, 32])])
def test_gradients_reach_every_parameter(encoder, embed_stride, channels):
    net = small_net(encoder=encoder, embed_stride=embed_stride, channels=channels).train()
    out = both_passes(net, torch.rand(2, 6, 64, 44))  # a pretraining and a fine-tuning step reach them all
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
    net(torch.rand(2, 4, 64, 44))  # a fine-tuning step
    assert calls == []
    net(torch.rand(2, 4, 64, 44), reconstruct=True)  # a pretraining step
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


def test_boolean_switch_rejects_other_values():
    with pytest.raises(ConfigError, match="`part_visibility` = 'yes' is invalid; allowed: true or false"):
        NetworkConfig(**{**SMALL, "part_visibility": "yes"})


@pytest.mark.parametrize("key,says", [
    ("mask_channel", r"removed on 2026-12-06: .*46\.7 against 49\.2"),
    ("spatial_layers", r"removed on 2026-12-06: .*36\.2"),
    ("identity_view", r"removed on 2026-12-07: .*-9\.0 ± 13\.0 .*set `pretrain_fraction`"),
    ("reconstruct_fraction", r"removed on 2026-12-07: .*-9\.0 ± 13\.0 .*set `pretrain_fraction`"),
])
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


def test_a_network_without_pretraining_has_no_decoder_and_refuses_to_reconstruct():
    """pretrain_fraction 0 builds no decoder: asking for a reconstruction (visualize) is a
    ConfigError naming the recipe that has one, and the identity path still runs."""
    net = small_net(pretrain_fraction=0.0).eval()
    assert sum(p.numel() for p in net.decoder.parameters()) == 0
    assert sum(p.numel() for p in small_net(pretrain_fraction=0.0, class_num=0).decoder.parameters()) > 0
    with torch.no_grad():
        assert net.embed(torch.rand(1, 4, 64, 44)).shape == (1, 8, 16)
        with pytest.raises(ConfigError, match=r"pretrain_fraction is 0.*no decoder.*gaitbert_casiab_bert\.yaml"):
            net(torch.rand(1, 4, 64, 44), reconstruct=True)


@pytest.mark.parametrize("fraction,total,boundary", [(0.3, 1000, 300), (0.3, 10, 3), (0.25, 6, 2), (0.0, 50, 0)])
def test_the_pretraining_phase_is_the_first_fraction_of_the_iterations(fraction, total, boundary):
    """The phase of a step is a function of the completed iterations alone: a resumed run is in
    the same phase as the uninterrupted one, and a shortened schedule keeps its shape."""
    from opengait_gaitbert.core.model import FINETUNE, PRETRAIN, training_phase
    config = NetworkConfig(**{**SMALL, "pretrain_fraction": fraction})
    phases = [training_phase(config, iteration, total) for iteration in range(total)]
    assert phases == [PRETRAIN] * boundary + [FINETUNE] * (total - boundary)


def test_pretraining_without_labels_pretrains_in_every_iteration():
    from opengait_gaitbert.core.model import PRETRAIN, training_phase
    config = NetworkConfig(**{**SMALL, "class_num": 0})
    assert {training_phase(config, iteration, 20) for iteration in range(20)} == {PRETRAIN}


@pytest.mark.parametrize("value", [-0.1, 1.0, 1.5, "half", True])
def test_pretrain_fraction_rejects_values_outside_0_1(value):
    with pytest.raises(ConfigError, match=r"`pretrain_fraction` = .* is invalid; allowed: a number in \[0, 1\)"):
        NetworkConfig(**{**SMALL, "pretrain_fraction": value})

