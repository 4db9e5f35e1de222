"""Data tools: synthetic datasets in CASIA-B's, OU-MVLP's, GREW's, Gait3D's and SUSTech1K's
layouts (``synth``, ``layouts``) and a pretreatment converter.

Pure numpy / OpenCV: nothing here imports OpenGait or torch.
"""
