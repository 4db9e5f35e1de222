"""User tools on a trained GaitBERT: pictures, embeddings, identification, export. OpenGait-free.

One job per module:

* :mod:`.trained_config`: what the tools read from the YAML config a model was trained with;
* :mod:`.checkpoint`: the trained network, built from that config and loaded from its checkpoint;
* :mod:`.config_from_weights`: the ``model_cfg`` values a checkpoint's weights reveal;
* :mod:`.network_input`: silhouettes -> the network's input, as OpenGait's test pipeline makes it;
* :mod:`.model_arguments`: ``--cfgs`` / ``--ckpt`` / ``--device``, shared by every tool;
* :mod:`.visualize`, :mod:`.identify`, :mod:`.export`: the ``visualize``, ``embed``/``identify``
  and ``export`` commands.
"""
