"""``opengait-gaitbert visualize``: a picture (PNG) or animation (GIF) of what GaitBERT fills in.

The first ``--frames`` frames of the sequence form one clip, as in training
(``fixed_ordered`` clips). The clip is masked with the config's
``MaskedFrameSampler`` policy (``--mode`` / ``--ratio`` override it), the
network reconstructs it, and the result is drawn by the same renderer as the
TensorBoard pictures (:mod:`opengait_gaitbert.core.render`):

- PNG: one column per frame, four rows: input (hidden parts in red),
  reconstruction, ground truth, error;
- GIF: one animation frame per time step, the same four panels side by side.

The mean squared error on the hidden positions is printed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Union

import numpy as np

from .checkpoint import describe_model, load_model
from .model_arguments import add_model_arguments
from .network_input import preprocess, read_aligned
from .trained_config import cutting_options, masking_policy
from ..core.errors import DataError
from ..core.masking import MODES

SUFFIXES = (".png", ".gif")
GAP = 1  # pixels between panels, as in core.render
BACKGROUND = 0.15  # grey between panels, as in core.render
GIF_FRAME_MS = 120

EPILOG = """examples:
  opengait-gaitbert visualize --cfgs configs/gaitbert/gaitbert_casiab.yaml \\
      --ckpt output/CASIA-B/GaitBERT/GaitBERT/checkpoints/GaitBERT-60000.pt \\
      --seq CASIA-B-pkl/075/nm-05/090/090.pkl --out recon.png
  opengait-gaitbert visualize --cfgs my.yaml --ckpt my.pt --seq walk.gif --mode span \\
      --ratio 0.5 --out recon.gif

--seq takes an OpenGait .pkl, a folder of PNG frames, or an animated GIF; frames
that are not yet 64x64 are aligned like OpenGait's pretreatment first.
"""


def add_arguments(parser) -> None:
    """Add the ``visualize`` options to an argparse parser."""
    add_model_arguments(parser)
    parser.add_argument("--seq", required=True, help="sequence: .pkl, folder of PNG frames, or .gif")
    parser.add_argument("--mode", choices=MODES,
                        help="what to hide (default: the config's MaskedFrameSampler mode)")
    parser.add_argument("--ratio", type=float,
                        help="fraction of frames chosen, in [0, 1) (default: the config's)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the mask (default: 0)")
    parser.add_argument("--frames", type=int, default=16,
                        help="clip length: the first K frames are masked and shown (default: 16)")
    parser.add_argument("--scale", type=int, default=1, help="enlarge the picture K times (default: 1)")
    parser.add_argument("--out", required=True,
                        help="output picture: FILE.png (grid) or FILE.gif (animation)")


def main(args) -> int:
    """Run :func:`visualize` from parsed arguments; 0 on success.

    User errors raise :class:`~opengait_gaitbert.core.errors.GaitBERTError`; the CLI prints them.
    """
    out = check_output_path(args.out)
    if args.frames < 1 or args.scale < 1:
        raise DataError(f"--frames ({args.frames}) and --scale ({args.scale}) must be >= 1.")
    net, cfg = load_model(args.cfgs, args.ckpt, args.device)
    policy = masking_policy(cfg, args.cfgs, mode=args.mode, ratio=args.ratio)
    frames = read_aligned(args.seq)  # [T, 64, 64] uint8
    result = visualize(net, frames, policy, out, max_frames=args.frames, seed=args.seed,
                       scale=args.scale, aligned=True, **cutting_options(cfg, "train"))
    print(describe_model(net))
    print(f"{args.seq}: {result['frames']} frames, mode={policy.mode} ratio={policy.ratio}, "
          f"{result['hidden']:.0f} hidden pixels")
    print(f"hidden-position MSE: {result['mse']:.5f}")
    print(f"wrote {result['path']} ({result['width']}x{result['height']}"
          + (f", {result['frames']} animation frames)" if out.suffix.lower() == ".gif" else ")"))
    return 0


def check_output_path(out: Union[str, Path]) -> Path:
    """Validate ``--out`` before any work: a .png/.gif in an existing (or creatable) folder."""
    out = Path(out)
    if out.suffix.lower() not in SUFFIXES:
        raise DataError(f"--out {out}: unsupported picture type {out.suffix!r}; use FILE.png "
                        "(a grid) or FILE.gif (an animation).")
    return out


def visualize(net, frames, policy, out_path: Union[str, Path], max_frames: int = 16, seed: int = 0,
              scale: int = 1, aligned: bool = False, divsor: float = 255.0,
              cutting: Optional[int] = None) -> Dict:
    """Mask a clip, reconstruct it and write the picture.

    Args:
        net: a :class:`GaitBERTNet` (eval mode is set here).
        frames: uint8 silhouettes ``[T, H, W]`` (``aligned=True``: already OpenGait's
            64x64), or a path that :func:`~.checkpoint.preprocess` reads.
        policy: the :class:`~opengait_gaitbert.core.masking.MaskingPolicy`.
        out_path: ``.png`` (4-row grid) or ``.gif`` (one frame per time step).
        max_frames: clip length: the first ``max_frames`` frames are used.
        seed: seed of the mask's generator.
        scale: integer enlargement (nearest neighbour).
        divsor, cutting: ``BaseSilCuttingTransform`` options.
    Returns:
        ``dict(mse=hidden-position MSE, frames=k, path=Path, width=, height=, hidden=pixel count)``.
    Raises:
        DataError: a clip the policy cannot mask, or a bad output suffix.
    """
    out = check_output_path(out_path)
    clip = preprocess(frames, divsor, cutting, aligned)[:max_frames]  # [k, h, w]
    panels = reconstruct(net, clip.numpy(), policy, seed)
    if out.suffix.lower() == ".png":
        image = grid_image(panels)  # [H, W, 3]
        write_png(_enlarge(image, scale), out)
        height, width = image.shape[0] * scale, image.shape[1] * scale
    else:
        movie = animation_frames(panels)  # [k, H, W, 3]
        write_gif(_enlarge(movie, scale), out)
        height, width = movie.shape[1] * scale, movie.shape[2] * scale
    hidden = panels["mask"] > 0
    mse = float(((panels["recon"] - panels["target"]) ** 2)[hidden].mean())
    return {"mse": mse, "frames": int(clip.shape[0]), "path": out, "width": int(width),
            "height": int(height), "hidden": float(hidden.sum())}


def reconstruct(net, clip: np.ndarray, policy, seed: int = 0) -> Dict[str, "np.ndarray"]:
    """Mask and reconstruct one clip.

    Args:
        clip: float32 ``[k, h, w]`` in [0, 1].
    Returns:
        ``inputs`` (masked), ``recon`` (sigmoid of the logits), ``target``, ``mask``,
        each float32 ``[k, h, w]``.
    """
    import torch

    from ..core.masking import check_sequence, mask_sequence

    check_sequence(clip, policy)
    corrupted, mask = mask_sequence(clip, policy, np.random.default_rng(seed))
    net.eval()
    device = next(net.parameters()).device
    with torch.no_grad():
        logits = net(torch.from_numpy(corrupted)[None].to(device), None, reconstruct=True)["reconstruction"]
    recon = torch.sigmoid(logits[0].float()).cpu().numpy()
    return {"inputs": corrupted, "recon": recon, "target": clip, "mask": mask}


def grid_image(panels: Dict[str, np.ndarray]) -> np.ndarray:
    """The four rows tiled by :func:`core.render.reconstruction_grid`: uint8 ``[4h+3, k(w+1)-1, 3]``."""
    import torch

    from ..core.render import reconstruction_grid

    return reconstruction_grid(*(torch.from_numpy(panels[k]) for k in ("inputs", "recon", "target", "mask")),
                               gap=GAP)


def animation_frames(panels: Dict[str, np.ndarray]) -> np.ndarray:
    """One picture per time step, the four panels side by side: uint8 ``[k, h, 4w+3, 3]``."""
    import torch

    from ..core.render import reconstruction_rows

    rows = reconstruction_rows(*(torch.from_numpy(panels[k])
                                 for k in ("inputs", "recon", "target", "mask")))  # [4, k, 3, h, w]
    r, k, _, h, w = rows.shape
    movie = torch.full((k, 3, h, r * (w + GAP) - GAP), BACKGROUND)
    for i in range(r):
        movie[..., i * (w + GAP):i * (w + GAP) + w] = rows[i]
    return (movie.clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)


def _enlarge(image: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour enlargement of ``[..., H, W, 3]``."""
    if scale == 1:
        return image
    return image.repeat(scale, axis=-3).repeat(scale, axis=-2)


def write_png(image: np.ndarray, path: Path) -> None:
    """uint8 RGB ``[H, W, 3]`` -> PNG."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image, "RGB").save(path)


def write_gif(movie: np.ndarray, path: Path, frame_ms: int = GIF_FRAME_MS) -> None:
    """uint8 RGB ``[k, H, W, 3]`` -> looping animated GIF with k frames."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    pictures = [Image.fromarray(frame, "RGB") for frame in movie]
    # optimize=False and disposal=1 keep every time step a full, separate GIF frame.
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=frame_ms, loop=0,
                     optimize=False, disposal=1)
