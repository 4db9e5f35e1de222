"""OpenGait adapters: the only modules that import OpenGait.

They are imported lazily, one by one, by :mod:`opengait_gaitbert.registry`,
because OpenGait's own modules may still be importing when the startup hook
registers a name: importing every adapter here would create import cycles.
"""
