"""Data tools: a synthetic CASIA-B-protocol dataset and a pretreatment converter.

Pure numpy / OpenCV: nothing here imports OpenGait or torch.
"""
