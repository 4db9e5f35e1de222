"""Side-by-side benchmarks of GaitBERT against OpenGait's own GaitBase and GaitSet.

Run ``python -m benchmarks.run_all --opengait PATH`` from the repository root;
see ``benchmarks/README.md``.
"""
