"""``opengait-gaitbert video``: a static camera's video -> one OpenGait pkl folder per person.

Writes under ``--out``: ``silhouettes/<video>_<id>/nm-01/000/000.pkl`` (uint8
``[T, 64, 64]``, aligned like ``pretreat``; ``--out``/silhouettes is an OpenGait
``dataset_root`` and a folder ``identify`` reads), ``tracks.json`` (every track's
boxes per frame, merges and splits, skipped tracks, warnings, timings),
``overview.png`` (the tracks' paths and silhouettes) and ``annotated.mp4``
(``--annotated``: boxes and track ids on every frame; ``.gif`` or ``.avi`` too).
"""
from __future__ import annotations

import sys
from pathlib import Path

from .foreground import SUBTRACTORS, ForegroundSettings
from .pipeline import VideoSettings, process_video, write_outputs
from .results import require_people
from .tracker import TrackerSettings

EPILOG = """examples:
  opengait-gaitbert video street.mp4 --out street/
  opengait-gaitbert video frames/ --fps 25 --out street/ --annotated street/tracks.gif
  opengait-gaitbert identify --cfgs my.yaml --ckpt GaitBERT-60000.pt --gallery street/silhouettes \\
      --probe other.mp4

Assumes a static camera and people walking upright, mostly apart, at least
--min-area pixels big. Most of the picture changing (a moving camera, a light
switched on) is reported and gives no detections; people walking together stay
one track; a person standing still fades into the background (--history).
"""


def add_arguments(parser) -> None:
    """The ``video`` command's options (defaults: :class:`~.pipeline.VideoSettings`)."""
    fg, tr, vs = ForegroundSettings(), TrackerSettings(), VideoSettings()
    parser.add_argument("input", help="a video file (any format OpenCV reads) or a folder of frames")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--annotated", help="annotated video or GIF to write (.mp4, .avi, .gif; "
                                            "default: OUT/annotated.mp4)")
    parser.add_argument("--no-annotated", action="store_true", help="do not write the annotated video")
    parser.add_argument("--fps", type=float, help="frame rate of a folder of frames (default: 25)")
    group = parser.add_argument_group("background subtraction")
    group.add_argument("--subtractor", choices=SUBTRACTORS, default=fg.method,
                       help=f"OpenCV background model (default: {fg.method})")
    group.add_argument("--history", type=int, default=fg.history,
                       help="frames the background remembers (default: 20 seconds of video)")
    group.add_argument("--threshold", type=float, default=fg.threshold,
                       help="change threshold (MOG2 varThreshold, default 16; KNN dist2Threshold, "
                            "default 400); lower finds fainter people and more noise")
    group.add_argument("--min-area", type=int, default=fg.min_area,
                       help="smallest person in pixels (default: 0.05%% of the frame, at least 100)")
    group.add_argument("--min-aspect", type=float, default=fg.min_aspect,
                       help=f"smallest blob height / width (default: {fg.min_aspect})")
    group.add_argument("--max-width", type=int, default=vs.max_width,
                       help=f"wider frames are scaled down to this width first (default: {vs.max_width})")
    group = parser.add_argument_group("tracking")
    group.add_argument("--iou-min", type=float, default=tr.iou_min,
                       help=f"smallest box overlap that continues a track (default: {tr.iou_min})")
    group.add_argument("--max-gap", type=int, default=tr.max_gap,
                       help=f"frames a track survives undetected (default: {tr.max_gap})")
    group.add_argument("--min-hits", type=int, default=tr.min_hits,
                       help=f"consecutive detections that start a track (default: {tr.min_hits})")
    group.add_argument("--min-frames", type=int, default=vs.min_frames,
                       help=f"silhouettes a track needs to be written (default: {vs.min_frames})")
    group.add_argument("--min-motion", type=float, default=vs.min_motion,
                       help=f"box heights a track must travel, else static (default: {vs.min_motion})")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def settings_from_args(args) -> VideoSettings:
    return VideoSettings(
        foreground=ForegroundSettings(method=args.subtractor, history=args.history,
                                      threshold=args.threshold, min_area=args.min_area,
                                      min_aspect=args.min_aspect),
        tracker=TrackerSettings(iou_min=args.iou_min, max_gap=args.max_gap, min_hits=args.min_hits),
        min_frames=args.min_frames, min_motion=args.min_motion, max_width=args.max_width, fps=args.fps)


def main(args) -> int:
    """Run the pipeline, write the outputs, print the summary; 0 when a track was written.

    Raises:
        GaitBERTError: unreadable or empty input, bad options, or no usable person (after the
            summary is written, so ``tracks.json`` tells why).
    """
    out = Path(args.out)
    annotated = None if args.no_annotated else Path(args.annotated or out / "annotated.mp4")
    result = process_video(args.input, settings_from_args(args), progress=not args.no_progress,
                           annotated=annotated)
    written = write_outputs(result, out)
    print(result.report())
    for warning in result.warnings:
        print(f"opengait-gaitbert video: warning: {warning}", file=sys.stderr)
    seconds = sum(result.timings.values())
    print(f"processed {result.frames} frames in {seconds:.1f} s ({result.frames / max(seconds, 1e-9):.1f} "
          f"frames/s); wrote {written['json']}, {written['overview']}"
          + (f", {annotated}" if annotated else ""))
    kept = require_people(result)
    print(f"wrote {len(kept)} tracks to {written['silhouettes']} (OpenGait's pkl layout)")
    return 0
