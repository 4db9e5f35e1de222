"""Frames of a video file or of a folder of images, with the problems a user can fix named.

A :class:`FrameSource` is opened once to check it (readable, at least one frame,
one frame size) and can then be iterated as often as needed: each iteration
reads from the start again, so the background model can be primed on a first
look at the video without holding frames in memory.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

import cv2
import numpy as np

from ..core.errors import DataError, SequenceReadError
from ..data.image_limits import check_frame_pixels, image_header
from ..data.readers import IMAGE_SUFFIXES, list_frame_files
from ..data.safe_pickle import regular_file

#: File endings taken for videos when a tool must tell a video from a silhouette sequence.
VIDEO_SUFFIXES = (".avi", ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv",
                  ".flv", ".ts", ".mts", ".3gp", ".ogv", ".mjpeg", ".mjpg", ".y4m")
#: Frame rate assumed for a folder of frames (which has none) unless the user gives one.
FOLDER_FPS = 25.0
_CONVERT_HINT = ("Convert it with e.g. `ffmpeg -i IN -c:v libx264 OUT.mp4`, or extract its frames "
                 "to a folder of PNG images and pass the folder.")


@dataclass
class FrameSource:
    """A video file or a folder of frames, checked on construction.

    Attributes:
        path: the file or folder.
        fps: frames per second (the container's, ``--fps``, or :data:`FOLDER_FPS`).
        size: ``(width, height)`` of every frame.
        frame_count: frames the container announces (a folder: its image files); 0 if unknown.
        unreadable: ``(file, reason)`` of folder images that could not be decoded (skipped).
    """

    path: Path
    fps: float = 0.0
    size: Tuple[int, int] = (0, 0)
    frame_count: int = 0
    unreadable: List[Tuple[str, str]] = field(default_factory=list)

    @classmethod
    def open(cls, path, fps: Optional[float] = None) -> "FrameSource":
        """Check ``path`` and read its properties.

        Raises:
            SequenceReadError: missing, or a file OpenCV cannot open (names the fix).
            DataError: no frame at all (an empty or truncated video, a folder without images),
                or frames of different sizes in a folder.
        """
        source = cls(Path(path))
        if source.path.is_dir():
            files = list_frame_files(source.path)
            if not files:
                raise DataError(f"{source.path}: no frames: the folder holds no "
                                f"{'/'.join(IMAGE_SUFFIXES)} images. Pass a video file or a "
                                "folder of frames.")
            source.frame_count = len(files)
            source.fps = float(fps or FOLDER_FPS)
        elif source.path.is_file():
            capture = _open_capture(source.path)
            source.frame_count = max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
            source.fps = float(fps or capture.get(cv2.CAP_PROP_FPS) or FOLDER_FPS)
            capture.release()
        else:
            if os.path.lexists(source.path):
                regular_file(source.path)  # a FIFO or device: refused unopened, naming what it is
            raise SequenceReadError(f"{source.path}: no such file or folder. Pass a video file "
                                    "(any format OpenCV reads) or a folder of frames.")
        first = next(iter(source), None)
        if first is None and source.unreadable:
            raise DataError(f"{source.path}: zero frames: none of its {len(source.unreadable)} images "
                            f"can be decoded (e.g. {source.unreadable[0][0]}).")
        if first is None:
            raise DataError(f"{source.path}: zero frames: it opens but no frame can be decoded "
                            f"(an empty or truncated recording). {_CONVERT_HINT}")
        source.size = (first.shape[1], first.shape[0])
        return source

    @property
    def is_folder(self) -> bool:
        return self.path.is_dir()

    def __iter__(self) -> Iterator[np.ndarray]:
        """Every frame from the first, as BGR ``[H, W, 3]`` uint8."""
        return self._folder_frames() if self.is_folder else self._video_frames()

    def sample(self, count: int, step: int) -> Iterator[np.ndarray]:
        """Every ``step``-th of the first ``count`` frames (0, step, 2 step, ...), BGR ``[H, W, 3]``.

        Frames in between are skipped without being converted (a video) or read (a folder).
        """
        if self.is_folder:
            return self._folder_frames(list_frame_files(self.path)[:count:step])
        return self._video_frames(count, step)

    def _video_frames(self, count: Optional[int] = None, step: int = 1) -> Iterator[np.ndarray]:
        capture = _open_capture(self.path)
        try:
            index = 0
            while count is None or index < count:
                # grab() demuxes and decodes; retrieve() converts to BGR, only for the frames wanted.
                if not capture.grab():
                    return
                if index % step == 0:
                    ok, frame = capture.retrieve()
                    if not ok:
                        return
                    yield frame
                index += 1
        finally:
            capture.release()

    def _folder_frames(self, files: Optional[List[Path]] = None) -> Iterator[np.ndarray]:
        if files is None:
            files = list_frame_files(self.path)
            self.unreadable.clear()  # each full pass meets the same files again
        for file in files:
            frame = _read_colour(file)
            if frame is None:
                self.unreadable.append((str(file), "not a decodable image"))
                continue
            if self.size != (0, 0) and (frame.shape[1], frame.shape[0]) != self.size:
                raise DataError(f"{file}: size {frame.shape[1]}x{frame.shape[0]} differs from the "
                                f"first frame's {self.size[0]}x{self.size[1]}; every frame of a "
                                "video must have one size.")
            yield frame


def _open_capture(path: Path) -> "cv2.VideoCapture":
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise SequenceReadError(f"{path}: unreadable: OpenCV cannot open this file as a video (not a "
                                f"video, damaged, or a codec this OpenCV build lacks). {_CONVERT_HINT}")
    width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    try:
        check_frame_pixels(path, width, height, what="video frame")  # before the first frame is decoded
    except SequenceReadError:
        capture.release()
        raise
    return capture


def _read_colour(file: Path) -> Optional[np.ndarray]:
    """One image as BGR ``[H, W, 3]`` uint8 (grey images too), or None if it cannot be decoded."""
    try:
        # imdecode(fromfile) instead of imread: works with non-ASCII paths.
        data = np.fromfile(str(file), dtype=np.uint8)
        image_header(data, file)  # SequenceReadError for a decompression bomb, before decoding
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except (OSError, cv2.error):
        return None
    return image if image is not None and image.size else None
