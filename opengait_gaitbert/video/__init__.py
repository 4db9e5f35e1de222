"""From a static camera's video to per-person silhouettes in OpenGait's pkl layout.

The front end of ``opengait-gaitbert video`` (and of ``identify``/``embed`` when
they are given a video):

* :mod:`.frames`: read a video file (anything OpenCV decodes) or a folder of frames;
* :mod:`.foreground`: background subtraction (OpenCV's MOG2 or KNN), shadow
  removal, morphology, person-sized blobs;
* :mod:`.tracker`: IoU + Hungarian multi-person tracking that bridges short
  gaps and reports merges and splits;
* :mod:`.pipeline`: all of it per frame, each track's silhouettes aligned by
  :func:`opengait_gaitbert.data.alignment.align_silhouette`, and the outputs;
* :mod:`.results`: what a run found, as the JSON summary and the printed report;
* :mod:`.annotate`: the annotated video / GIF and the overview picture;
* :mod:`.command`: the ``video`` command.

It needs OpenCV, numpy, scipy and tqdm; it never imports torch or OpenGait.
"""
