"""Data tools: synthetic datasets in CASIA-B's, OU-MVLP's, GREW's, Gait3D's and SUSTech1K's
layouts (``synth``, ``layouts``) and a pretreatment converter.

One job per module:

* :mod:`.alignment`: OpenGait's per-frame silhouette alignment;
* :mod:`.image_limits`: decompression-bomb limits, checked from image headers;
* :mod:`.readers`: silhouette frames and sequences from folders, images, GIFs and pkl files;
* :mod:`.safe_pickle`: loading pkl files without letting them run code;
* :mod:`.pretreat`: the ``pretreat`` command, frames to OpenGait's pkl layout;
* :mod:`.partition`: the ``partition`` command, a partition JSON for a pkl folder;
* :mod:`.layouts`: each dataset's folder names, partition and files;
* :mod:`.synth_walkers`, :mod:`.synth_pose`, :mod:`.synth_render`: synthetic walkers,
  their pose over time and their silhouettes;
* :mod:`.synth`: the ``synth`` command, synthetic datasets written in a layout.

Pure numpy / OpenCV: nothing here imports OpenGait or torch.
"""
