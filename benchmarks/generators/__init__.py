"""Data generators the benchmarks use beside the package's own ``opengait_gaitbert.data.synth``: built
independently of it, so that a recipe tuned to one generator shows up on the other."""
